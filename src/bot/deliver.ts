// Sending to Discord when Discord has a bad moment. discord.js already waits out 429s (retry_after)
// and repeats a request that got a 5xx or a network error, but at once and only 3 times; a reply
// that still fails is tried again here after growing pauses. Only transient failures are retried
// (5xx, timeouts, connection errors); a 4xx is a real refusal. Message replies carry a nonce with
// enforce_nonce, so a retried create never posts the answer twice.
import { DiscordAPIError, HTTPError } from "discord.js";
import type { Logger } from "../log.js";
import { errInfo } from "./errors.js";

/** Pauses between attempts (jittered ±20%); the last failure is thrown. */
export const DEFAULT_RETRY_DELAYS_MS = [1000, 3000, 8000];

const NETWORK_CODES = /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|EPIPE|ETIMEDOUT|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|UND_ERR_\w+)$/;

export function isTransient(err: unknown): boolean {
  if (err instanceof HTTPError) return err.status >= 500;
  if (err instanceof DiscordAPIError) return err.status >= 500;
  const e = err as { name?: unknown; code?: unknown; cause?: { code?: unknown } } | undefined;
  if (e?.name === "AbortError" || e?.name === "TimeoutError") return true;
  return NETWORK_CODES.test(String(e?.code ?? "")) || NETWORK_CODES.test(String(e?.cause?.code ?? ""));
}

export interface RetryOptions {
  log: Logger;
  delaysMs: readonly number[];
  /** What is being sent, for the log. */
  what: string;
  /** Give up instead of waiting past this time (epoch ms), e.g. an interaction's 3 s deadline. */
  deadline?: number;
  onRetry?: () => void;
}

export async function withRetry<T>(send: () => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      const base = opts.delaysMs[attempt];
      if (base === undefined || !isTransient(err)) throw err;
      const delay = Math.round(base * (0.8 + Math.random() * 0.4));
      if (opts.deadline !== undefined && Date.now() + delay > opts.deadline) throw err;
      opts.log.warn({ err: errInfo(err), what: opts.what, attempt: attempt + 1, retryInMs: delay }, "Discord did not take the reply; sending it again shortly");
      opts.onRetry?.();
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
