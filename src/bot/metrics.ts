// Prometheus metrics (prom-client), one registry per running bot so tests can run several.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Where a question came from. */
export type Source = "mention" | "reply" | "dm" | "answer-channel" | "thread" | "ask" | "more" | "source" | "find-sources" | "cli";

export interface QueueStats {
  pending: number;
  waiting: number;
  active: number;
  max: number;
}

export class BotMetrics {
  readonly registry = new Registry();
  /** Every question received, whatever became of it. */
  readonly questions: Counter<"source">;
  /** Answers delivered, by whether the articles covered the question. */
  readonly answers: Counter<"source" | "answered">;
  /** Questions the articles don't cover (the bot said so and showed related passages). */
  readonly abstentions: Counter<"source">;
  /** From the question's arrival to the answer's delivery. */
  readonly latency: Histogram<"source">;
  readonly rateLimited: Counter<"source" | "notified">;
  readonly busy: Counter<"source">;
  /** Questions refused as unusable (empty, too long, no words). */
  readonly refused: Counter<"source">;
  readonly errors: Counter<"where">;
  /** Replies Discord did not take at first (5xx, network) and that were sent again. */
  readonly deliveryRetries: Counter;
  readonly indexReloads: Counter<"trigger" | "result">;
  readonly gatewayConnected: Gauge;
  /** Questions from outside ALLOWED_CHANNELS / ALLOWED_ROLES (reason: channel, role, dm). */
  readonly notAllowed: Counter<"source" | "reason">;
  /** 👍/👎 presses: vote up/down; action recorded, changed, withdrawn, or refused (not-asker, expired). */
  readonly votes: Counter<"vote" | "action">;

  constructor(queue: () => QueueStats, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.questions = new Counter({ name: "citebot_questions_total", help: "Questions received, by source", labelNames: ["source"], registers });
    this.answers = new Counter({
      name: "citebot_answers_total",
      help: "Answers delivered, by source and whether the articles covered the question",
      labelNames: ["source", "answered"],
      registers,
    });
    this.abstentions = new Counter({
      name: "citebot_abstentions_total",
      help: "Questions the articles don't cover (answered with related passages only)",
      labelNames: ["source"],
      registers,
    });
    this.latency = new Histogram({
      name: "citebot_answer_duration_seconds",
      help: "Time from a question's arrival to its answer's delivery",
      labelNames: ["source"],
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.rateLimited = new Counter({
      name: "citebot_rate_limited_total",
      help: "Questions refused by the per-user rate limit (notified: told to slow down; otherwise ignored as part of the same burst)",
      labelNames: ["source", "notified"],
      registers,
    });
    this.busy = new Counter({ name: "citebot_busy_total", help: "Questions turned away because the queue was full", labelNames: ["source"], registers });
    this.refused = new Counter({
      name: "citebot_refused_total",
      help: "Questions refused as unusable (empty, no words, too long)",
      labelNames: ["source"],
      registers,
    });
    this.errors = new Counter({ name: "citebot_errors_total", help: "Handler failures (the user got an apology)", labelNames: ["where"], registers });
    this.deliveryRetries = new Counter({ name: "citebot_delivery_retries_total", help: "Replies sent again after a Discord 5xx or network error", registers });
    this.indexReloads = new Counter({
      name: "citebot_index_reloads_total",
      help: "Index reloads, by trigger (watch, reindex) and result",
      labelNames: ["trigger", "result"],
      registers,
    });
    this.notAllowed = new Counter({
      name: "citebot_not_allowed_total",
      help: "Questions from outside ALLOWED_CHANNELS/ALLOWED_ROLES, by source and reason (channel, role, dm)",
      labelNames: ["source", "reason"],
      registers,
    });
    this.votes = new Counter({
      name: "citebot_feedback_votes_total",
      help: "👍/👎 presses on answers, by vote and what became of it (recorded, changed, withdrawn, not-asker, expired)",
      labelNames: ["vote", "action"],
      registers,
    });
    this.gatewayConnected = new Gauge({ name: "citebot_gateway_connected", help: "1 while the gateway connection is ready", registers });
    new Gauge({
      name: "citebot_queue_depth",
      help: "Questions accepted and not yet answered",
      registers,
      collect() {
        this.set(queue().pending);
      },
    });
    new Gauge({
      name: "citebot_queue_waiting",
      help: "Questions waiting for a compute slot",
      registers,
      collect() {
        this.set(queue().waiting);
      },
    });
    new Gauge({
      name: "citebot_queue_active",
      help: "Answers being computed",
      registers,
      collect() {
        this.set(queue().active);
      },
    });
    new Gauge({
      name: "citebot_queue_max",
      help: "QUEUE_MAX: questions accepted at most before the bot says it is busy",
      registers,
      collect() {
        this.set(queue().max);
      },
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: "citebot_" });
  }
}
