// The one way a question is admitted and answered, whatever front end it came from (a mention, a
// reply, a DM, /ask, Find sources, More, /source with a query, the CLI): clean it, count it against
// the asker's rate limit, take a place in the bounded queue, answer it through the core, hand the
// answer to the front end to deliver, and record metrics. No Discord here: front ends turn a
// refusal into their own reply (a channel reply, an ephemeral notice, a line on stdout).
import type { BotMetrics, Source } from "../bot/metrics.js";
import type { RateLimiter } from "../bot/ratelimit.js";
import type { CitebotLike } from "../bot/types.js";
import type { WorkQueue } from "../bot/work.js";
import type { Logger } from "../log.js";
import { cleanQuestion, QuestionError, REFUSAL } from "../question.js";
import type { Answer, AnswerOptions, Hit } from "../types.js";

/** What the asker is told when a question is not admitted (front ends may word "empty" their own way). */
export const ASK_TEXT = {
  restarting: "I'm restarting. Please ask again in a minute.",
  busy: "I'm busy answering a lot of questions right now. Please try again in a moment.",
  slowDown: (ms: number) => `Slow down a little: you can ask again in ${Math.max(1, Math.ceil(ms / 1000))} s.`,
  empty: REFUSAL.noWords,
};

export type RefusalReason = "restarting" | "empty" | "no-words" | "too-long" | "rate-limited" | "busy";

export interface Refused {
  kind: "refused";
  reason: RefusalReason;
  /** A friendly sentence for the asker. */
  message: string;
  /** rate-limited: when the asker may ask again. */
  retryAfterMs?: number;
  /**
   * Whether to tell the asker. False only for the rest of a rate-limited burst when the request
   * asked to be told once (`notifyOnce`): a channel gets one "slow down", not one per message.
   */
  notify: boolean;
}

export interface Answered<T> {
  kind: "answer";
  answer: T;
  /** The question as answered (cleaned; or what `prepare` made of it, e.g. a follow-up read in context). */
  question: string;
}

export type Asked<T> = Answered<T> | Refused;

export interface AskRequest<T> {
  /** Who asks: the rate-limit key (a Discord user id; "cli"). */
  who: string;
  /** The front end it came from (metrics label). */
  where: Source;
  /** The question as typed. */
  question: string;
  /** A question the bot stored itself when it was first asked (More): already cleaned, so not cleaned again. */
  stored?: boolean;
  /** Excerpts to show and where to start (More). */
  options?: AnswerOptions;
  /** Say "slow down" once per rate-limited burst instead of every time (messages in a channel). */
  notifyOnce?: boolean;
  /** When the question arrived (for the latency metric); now by default. */
  received?: number;
  /** The front end's logger for this question (its ids); the Asker's own by default. */
  log?: Logger;
  /**
   * Runs once the question is admitted, before its answer is computed (it may wait its turn):
   * acknowledge the interaction, open a thread, read a follow-up with the question before it.
   * Resolving to a string answers that question instead; to anything else, the cleaned one.
   */
  prepare?(question: string): Promise<unknown>;
  /** Delivers the answer. The question keeps its place in the queue until this settles. */
  deliver?(answer: T, question: string): Promise<void>;
}

/** The metrics the Asker records (BotMetrics has them). */
export type AskMetrics = Pick<BotMetrics, "questions" | "refused" | "rateLimited" | "busy" | "answers" | "abstentions" | "latency">;

export interface AskerOptions {
  /** What answers: Citebot, or anything with the same methods. */
  citebot: Pick<CitebotLike, "answer" | "searchArticle">;
  /** Per-user limit; none for a single local user (the CLI). */
  limiter?: RateLimiter;
  /** Bounded queue of questions in progress; none when questions come one at a time (the CLI). */
  work?: WorkQueue;
  metrics?: AskMetrics;
  log?: Logger;
  /** True while shutting down: new questions are told to ask again later. */
  draining?: () => boolean;
}

export class Asker {
  constructor(private readonly deps: AskerOptions) {}

  /** Answers a question from all the articles. */
  ask(req: AskRequest<Answer>): Promise<Asked<Answer>> {
    return this.run(
      req,
      (question) => this.deps.citebot.answer(question, req.options),
      (answer, elapsed) => {
        const m = this.deps.metrics;
        if (!m) return;
        m.answers.inc({ source: req.where, answered: String(answer.answered) });
        // A further page of an answer is not a second abstention.
        if (!answer.answered && !req.options?.offset) m.abstentions.inc({ source: req.where });
        m.latency.observe({ source: req.where }, elapsed);
      },
    );
  }

  /** Finds the passage of one article that best matches the question (/source with a query). */
  lookUp(req: AskRequest<Hit | undefined> & { articleId: string }): Promise<Asked<Hit | undefined>> {
    return this.run(
      req,
      (question) => this.deps.citebot.searchArticle(req.articleId, question),
      (_hit, elapsed) => this.deps.metrics?.latency.observe({ source: req.where }, elapsed),
    );
  }

  /**
   * Admission then answer. Everything up to the queue's decision is synchronous (no await before
   * it), so a burst is admitted in arrival order and the decision never depends on timing.
   */
  private async run<T>(req: AskRequest<T>, compute: (question: string) => Promise<T>, record: (result: T, elapsedS: number) => void): Promise<Asked<T>> {
    const received = req.received ?? Date.now();
    const { limiter, work, metrics } = this.deps;
    const log = req.log ?? this.deps.log;
    const source = req.where;
    metrics?.questions.inc({ source });

    if (this.deps.draining?.()) {
      log?.info({ outcome: "restarting" }, "question during shutdown");
      return refused("restarting", ASK_TEXT.restarting);
    }

    let question = req.question;
    if (!req.stored) {
      if (!question.trim()) {
        metrics?.refused.inc({ source });
        log?.info({ outcome: "empty" }, "empty question");
        return refused("empty", ASK_TEXT.empty);
      }
      try {
        question = cleanQuestion(question);
      } catch (err) {
        if (!(err instanceof QuestionError)) throw err;
        metrics?.refused.inc({ source });
        log?.info({ outcome: "refused", reason: err.message }, "unusable question");
        return refused(err.reason, err.message);
      }
    }

    const rate = limiter?.take(req.who);
    if (rate && !rate.allowed) {
      const notify = !req.notifyOnce || rate.notify;
      metrics?.rateLimited.inc({ source, notified: String(notify) });
      log?.info({ outcome: "rate-limited", notify }, "rate limited");
      return { ...refused("rate-limited", ASK_TEXT.slowDown(rate.retryAfterMs), notify), retryAfterMs: rate.retryAfterMs };
    }

    const ticket = work ? work.admit() : undefined;
    if (work && !ticket) {
      metrics?.busy.inc({ source });
      log?.warn({ outcome: "busy", pending: work.pending }, "queue full; told the user to try again");
      return refused("busy", ASK_TEXT.busy);
    }

    try {
      const instead = await req.prepare?.(question);
      const asked = typeof instead === "string" && instead ? instead : question;
      const result = ticket ? await ticket.compute(() => compute(asked)) : await compute(asked);
      await req.deliver?.(result, asked);
      record(result, (Date.now() - received) / 1000);
      return { kind: "answer", answer: result, question: asked };
    } finally {
      ticket?.done();
    }
  }
}

function refused(reason: RefusalReason, message: string, notify = true): Refused {
  return { kind: "refused", reason, message, notify };
}
