// A local Discord emulator: REST (HTTP) + gateway (WebSocket, `ws`) on 127.0.0.1, speaking enough of
// Discord API v10 for the unmodified discord.js Client to log in, receive messages and interactions,
// and answer them. Every REST request is recorded (method, path, parsed body incl. multipart
// payload_json) so tests assert on what the bot actually sent. Faults (429/5xx on a route, gateway
// closes, reconnect requests, invalid sessions) can be injected.
//
// Sharding as Discord does it: a client that identifies with `shard: [i, n]` gets only the events of
// the guilds with (guild_id >> 22) % n === i, and DMs only on shard 0; each shard is its own session.
// `deliveries` records which shard each message and interaction was sent to.
//
//   const emu = await DiscordEmulator.start();
//   const client = new Client({ intents, rest: { api: emu.apiUrl } });
//   await client.login(emu.token);
//
// Nothing here talks to anything but 127.0.0.1.

import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { autocompleteProblems, commandProblems, isEmptyMessage, messagePayloadProblems } from "./limits.js";

type Json = any;

export const Intents = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildPresences: 1 << 8,
  GuildMessages: 1 << 9,
  DirectMessages: 1 << 12,
  MessageContent: 1 << 15,
} as const;
/** The Embed Links permission bit. */
export const EMBED_LINKS = 1n << 14n;
/** Thread permission bits (for denyBotPermissions). */
export const CREATE_PUBLIC_THREADS = 1n << 35n;
export const SEND_MESSAGES_IN_THREADS = 1n << 38n;
export const MANAGE_THREADS = 1n << 34n;
const PRIVILEGED = Intents.GuildMembers | Intents.GuildPresences | Intents.MessageContent;

export const InteractionType = { Ping: 1, ApplicationCommand: 2, MessageComponent: 3, Autocomplete: 4, ModalSubmit: 5 } as const;
export const CallbackType = {
  Pong: 1,
  ChannelMessage: 4,
  DeferredChannelMessage: 5,
  DeferredUpdate: 6,
  UpdateMessage: 7,
  AutocompleteResult: 8,
  Modal: 9,
} as const;
export const EPHEMERAL = 1 << 6;

export interface EmuUser {
  id: string;
  username: string;
  global_name: string | null;
  discriminator: string;
  avatar: string | null;
  bot?: boolean;
}

export interface RecordedRequest {
  seq: number;
  at: number;
  method: string;
  /** Path below the API base and version, e.g. `/channels/123/messages`. */
  path: string;
  query: Record<string, string>;
  /** Whether an `Authorization: Bot <token>` header was present (its value is never recorded). */
  authorized: boolean;
  contentType: string | undefined;
  /** JSON body, or the parsed `payload_json` of a multipart body. */
  body: Json;
  files: Array<{ field: string; filename: string; size: number }>;
  status: number;
  response: Json;
  /** Set when an injected fault produced the response. */
  fault?: boolean;
}

export interface GatewayFrame {
  at: number;
  direction: "in" | "out";
  op: number;
  t?: string | null;
  s?: number | null;
  /** Payload data; IDENTIFY/RESUME tokens are replaced by "[token]". */
  d: Json;
}

export interface Ping {
  messageId: string;
  channelId: string;
  users: string[];
  roles: string[];
  everyone: boolean;
}

export interface RestFault {
  method?: string;
  /** Matches the recorded path (string: exact, or prefix when it ends with "*"). */
  path: string | RegExp;
  /** HTTP status to answer with; 0 resets the connection instead (a network error). */
  status: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Seconds, for 429. */
  retryAfter?: number;
  global?: boolean;
  body?: Json;
  /** Do the work first (e.g. create the message), then answer with the fault: a response lost on the way back. */
  after?: boolean;
}

export interface RestDelay {
  method?: string;
  path: string | RegExp;
  /** Milliseconds to hold the request before handling it. */
  ms: number;
  /** How many matching requests are held (default: all until cleared). */
  times?: number;
}

/** A file attached to a slash command (option type 11). */
export interface EmuAttachment {
  filename: string;
  content: Buffer | string;
  contentType?: string;
  /** The size Discord reports (default: the content's). */
  size?: number;
}

export interface EmulatorOptions {
  token?: string;
  /** Heartbeat interval announced in HELLO (ms). */
  heartbeatIntervalMs?: number;
  /** Privileged intents the application is allowed (Developer Portal toggles); default: all. */
  allowedPrivilegedIntents?: number;
  /** How long an interaction may go unacknowledged (ms); default 3000 like Discord. */
  interactionAckDeadlineMs?: number;
  /** Log every REST request and gateway frame to stderr. */
  verbose?: boolean;
  /** What GET /gateway/bot recommends as the number of shards (default 1). */
  recommendedShards?: number;
  /** GET /gateway/bot's session_start_limit.max_concurrency: IDENTIFYs allowed per 5 s (default 1). */
  maxConcurrency?: number;
}

interface Session {
  id: string;
  seq: number;
  intents: number;
  /** [shard id, shard count] from IDENTIFY ([0, 1] when the client sent none). */
  shard: [number, number];
  ws: WebSocket | null;
  /** Dispatches kept for RESUME replay. */
  backlog: Array<{ s: number; t: string; d: Json }>;
}

interface InteractionState {
  id: string;
  token: string;
  type: number;
  createdAt: number;
  channelId: string;
  guildId?: string;
  user: EmuUser;
  acknowledged: boolean;
  callbackType?: number;
  original?: Json;
  /** Source message of a component interaction. */
  message?: Json;
  followups: Json[];
  payload: Json;
}

interface Channel {
  id: string;
  type: number;
  name?: string;
  guild_id?: string;
  recipients?: EmuUser[];
  [k: string]: Json;
}

const DISCORD_EPOCH = 1420070400000n;

/** Discord's routing rule: the shard that receives a guild's events; DMs (no guild) go to shard 0. */
export function shardOfGuild(guildId: string | undefined, count: number): number {
  return guildId ? Number((BigInt(guildId) >> 22n) % BigInt(count)) : 0;
}
let increment = 0n;
export function snowflake(at = Date.now()): string {
  increment = (increment + 1n) & 0xfffn;
  return (((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | increment).toString();
}

function user(username: string, extra: Partial<EmuUser> = {}): EmuUser {
  return { id: snowflake(), username, global_name: username[0]!.toUpperCase() + username.slice(1), discriminator: "0", avatar: null, ...extra };
}

type Handler = (ctx: {
  params: string[];
  body: Json;
  query: Record<string, string>;
  authorized: boolean;
}) => { status: number; body?: Json; headers?: Record<string, string> } | Promise<{ status: number; body?: Json; headers?: Record<string, string> }>;

export class DiscordEmulator extends EventEmitter {
  readonly token: string;
  readonly botUser: EmuUser;
  readonly application: { id: string; name: string; flags: number; bot_public: boolean; owner: EmuUser; description: string };
  readonly users: { alice: EmuUser; bob: EmuUser; mallory: EmuUser; otherBot: EmuUser };
  readonly guild: { id: string; name: string; ownerId: string; everyoneRoleId: string; botRoleId: string; modRoleId: string };
  readonly channels: { general: Channel; answers: Channel; news: Channel };
  readonly requests: RecordedRequest[] = [];
  readonly gatewayFrames: GatewayFrame[] = [];
  readonly pings: Ping[] = [];
  /** Ids of messages and interactions actually sent to a connected client (first send or RESUME replay). */
  readonly deliveredIds = new Set<string>();
  /** For each message and interaction id: the shard ids of the sessions it was sent to, once per send (a RESUME replay adds one). */
  readonly deliveries = new Map<string, number[]>();
  /** Every gateway socket close, with the close code as the server saw it (1000 = the client closed cleanly). */
  readonly gatewayCloses: Array<{ at: number; code: number }> = [];
  readonly messages = new Map<string, Json>();
  readonly interactions = new Map<string, InteractionState>();
  /** Commands registered via PUT: key "global" or the guild id. */
  readonly commands = new Map<string, Json[]>();
  url = "";
  apiUrl = "";
  gatewayUrl = "";
  heartbeatIntervalMs: number;
  allowedPrivilegedIntents: number;
  recommendedShards: number;
  maxConcurrency: number;
  interactionAckDeadlineMs: number;

  private server: http.Server;
  private wss: WebSocketServer;
  private sockets = new Set<WebSocket>();
  private sessions = new Map<string, Session>();
  /** The session identified or resumed last (what the single-connection helpers act on). */
  private current: Session | null = null;
  /** The live session of each shard id, for the shard count identified last. */
  private shardSessions = new Map<number, Session>();
  private shardCount = 1;
  /** Guilds the bot is in: the main one, then those added by joinGuild. */
  private guildList: Array<{ guild: DiscordEmulator["guild"]; channels: Channel[] }> = [];
  private allChannels = new Map<string, Channel>();
  private dmByUser = new Map<string, string>();
  private faults: Array<RestFault & { remaining: number }> = [];
  private delays: Array<RestDelay & { remaining: number }> = [];
  /** While true, gateway connections are refused (the client keeps retrying). */
  rejectConnections = false;
  /** Messages created with enforce_nonce, by channel + author + nonce. */
  private nonces = new Map<string, string>();
  private routes: Array<{ method: string; re: RegExp; auth: boolean; handler: Handler }> = [];
  private reqSeq = 0;
  private verbose: boolean;

  private constructor(opts: EmulatorOptions) {
    super();
    this.setMaxListeners(100);
    this.token = opts.token ?? "emulator-bot-token";
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 41250;
    this.allowedPrivilegedIntents = opts.allowedPrivilegedIntents ?? PRIVILEGED;
    this.interactionAckDeadlineMs = opts.interactionAckDeadlineMs ?? 3000;
    this.verbose = opts.verbose ?? false;
    this.recommendedShards = opts.recommendedShards ?? 1;
    this.maxConcurrency = opts.maxConcurrency ?? 1;

    this.botUser = user("citebot", { bot: true });
    const owner = user("owner");
    // A bot's application id equals its user id.
    this.application = { id: this.botUser.id, name: "citebot", flags: (1 << 19) | (1 << 23), bot_public: true, owner, description: "" };
    this.users = { alice: user("alice"), bob: user("bob"), mallory: user("mallory"), otherBot: user("otherbot", { bot: true }) };
    const guildId = snowflake();
    this.guild = { id: guildId, name: "Newsroom", ownerId: owner.id, everyoneRoleId: guildId, botRoleId: snowflake(), modRoleId: snowflake() };
    const text = (name: string): Channel => ({
      id: snowflake(),
      type: 0,
      name,
      guild_id: guildId,
      position: 0,
      permission_overwrites: [],
      nsfw: false,
      topic: null,
      last_message_id: null,
      rate_limit_per_user: 0,
      parent_id: null,
    });
    this.channels = { general: text("general"), answers: text("ask-the-archive"), news: text("news") };
    for (const c of Object.values(this.channels)) this.allChannels.set(c.id, c);
    this.guildList.push({ guild: this.guild, channels: Object.values(this.channels) });

    this.server = http.createServer((req, res) => void this.onHttp(req, res));
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on("upgrade", (req, socket, head) => {
      const { pathname } = new URL(req.url ?? "/", "http://127.0.0.1");
      if (pathname !== "/gateway" && pathname !== "/gateway/") return socket.destroy();
      if (this.rejectConnections) return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
    this.defineRoutes();
  }

  static async start(opts: EmulatorOptions = {}): Promise<DiscordEmulator> {
    const emu = new DiscordEmulator(opts);
    await new Promise<void>((resolve) => emu.server.listen(0, "127.0.0.1", resolve));
    const { port } = emu.server.address() as AddressInfo;
    emu.url = `http://127.0.0.1:${port}`;
    emu.apiUrl = `${emu.url}/api`;
    emu.gatewayUrl = `ws://127.0.0.1:${port}/gateway`;
    return emu;
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ───────────────────────────── test helpers ─────────────────────────────

  private extraUsers: EmuUser[] = [];

  /** The member list of the guild (bot first). */
  get members(): EmuUser[] {
    return [this.botUser, ...Object.values(this.users), ...this.extraUsers];
  }

  /** A new guild member (tests use one per scenario so per-user state never leaks between them). */
  addUser(username: string, extra: Partial<EmuUser> = {}): EmuUser {
    const u = user(username, extra);
    this.extraUsers.push(u);
    return u;
  }

  /** True once a client has identified (or resumed) and is connected. */
  get connected(): boolean {
    return this.current?.ws?.readyState === WebSocket.OPEN;
  }

  /** The intents the connected client identified with. */
  get intents(): number | undefined {
    return this.current?.intents;
  }

  /** The shard ids whose session is connected now (for the shard count identified last). */
  get connectedShards(): number[] {
    return [...this.shardSessions.entries()]
      .filter(([, s]) => s.ws?.readyState === WebSocket.OPEN)
      .map(([id]) => id)
      .sort((a, b) => a - b);
  }

  /** The shard that receives this guild's events (DMs: shard 0) under the shard count identified last. */
  shardOf(guildId: string | undefined): number {
    return shardOfGuild(guildId, this.shardCount);
  }

  /** Resolves once `count` shards (ids 0 … count-1 of a `count`-shard bot) are all connected. */
  waitForShards(count: number, timeoutMs = 30_000): Promise<void> {
    const all = () => this.shardCount === count && this.connectedShards.length === count;
    if (all()) return Promise.resolve();
    return this.waitFor("ready", () => all(), timeoutMs, `${count} shards to connect`);
  }
  /** Resolves once a client has completed IDENTIFY (READY sent) — or RESUME. */
  waitForReady(timeoutMs = 5000): Promise<void> {
    if (this.connected) return Promise.resolve();
    return this.waitFor("ready", () => true, timeoutMs, "client to identify");
  }

  /** A public thread under a guild text channel (THREAD_CREATE is dispatched to the client). */
  createThread(parentId: string, name: string, owner: EmuUser = this.users.alice): Channel {
    const parent = this.allChannels.get(parentId);
    if (!parent?.guild_id) throw new Error(`unknown guild channel ${parentId}`);
    const thread: Channel = {
      id: snowflake(),
      type: 11,
      guild_id: parent.guild_id,
      parent_id: parent.id,
      owner_id: owner.id,
      name,
      last_message_id: null,
      rate_limit_per_user: 0,
      message_count: 0,
      member_count: 1,
      total_message_sent: 0,
      flags: 0,
      thread_metadata: {
        archived: false,
        auto_archive_duration: 1440,
        archive_timestamp: new Date().toISOString(),
        locked: false,
        create_timestamp: new Date().toISOString(),
      },
    };
    this.allChannels.set(thread.id, thread);
    this.threads.push(thread);
    this.dispatchToGuild(thread.guild_id, Intents.Guilds, "THREAD_CREATE", { ...thread, newly_created: true });
    return thread;
  }

  private threads: Channel[] = [];

  /** A channel's name (threads included), or its id when it has none (DMs). */
  channelName(id: string): string {
    const c = this.allChannels.get(id);
    return c?.name ?? (c?.type === 1 ? "DM" : id);
  }

  /** Channel object for a user's DM with the bot (created on first use). */
  dmChannel(u: EmuUser): Channel {
    let id = this.dmByUser.get(u.id);
    if (!id) {
      id = snowflake();
      this.dmByUser.set(u.id, id);
      this.allChannels.set(id, { id, type: 1, recipients: [u], last_message_id: null, flags: 0 });
    }
    return this.allChannels.get(id)!;
  }

  /**
   * Denies the bot permissions in a guild channel (a channel overwrite on its role, as a server admin
   * would set), dispatched as CHANNEL_UPDATE. Like Discord: embeds the bot sends in a channel where
   * it lacks Embed Links are dropped from the message, and interactions there carry the reduced
   * app_permissions.
   */
  denyBotPermissions(channelId: string, bits: bigint): void {
    const channel = this.allChannels.get(channelId);
    if (!channel?.guild_id) throw new Error(`unknown guild channel ${channelId}`);
    channel.permission_overwrites = [{ id: this.guild.botRoleId, type: 0, allow: "0", deny: String(bits) }];
    this.dispatchToGuild(channel.guild_id, Intents.Guilds, "CHANNEL_UPDATE", { ...channel });
  }

  /**
   * Archives, unarchives, locks or unlocks a thread (as a moderator or Discord's auto-archive would),
   * dispatched as THREAD_UPDATE. Like Discord, the bot can't post in an archived or locked thread
   * (50083 / 160005) without Manage Threads.
   */
  setThreadState(threadId: string, state: { archived?: boolean; locked?: boolean }): void {
    const thread = this.allChannels.get(threadId);
    if (!thread?.thread_metadata) throw new Error(`unknown thread ${threadId}`);
    thread.thread_metadata = { ...thread.thread_metadata, ...state, archive_timestamp: new Date().toISOString() };
    this.dispatchToGuild(thread.guild_id, Intents.Guilds, "THREAD_UPDATE", { ...thread });
  }

  /** Threads in the guild (created by users with createThread, or by the bot from a message). */
  get threadChannels(): Channel[] {
    return [...this.threads];
  }

  /**
   * The bot is added to another server: a guild with these text channels (each optionally with bot
   * permissions denied by an overwrite on the bot's role there), dispatched as GUILD_CREATE to the
   * shard that receives it. `shard: [i, n]` picks an id that a bot of n shards receives on shard i.
   */
  joinGuild(
    name: string,
    channels: Array<{ name: string; deny?: bigint }>,
    opts: { shard?: [number, number] } = {},
  ): { guild: DiscordEmulator["guild"]; channels: Channel[] } {
    const id = opts.shard ? guildIdOnShard(opts.shard[0], opts.shard[1]) : snowflake();
    const guild = { id, name, ownerId: this.guild.ownerId, everyoneRoleId: id, botRoleId: snowflake(), modRoleId: snowflake() };
    const made: Channel[] = channels.map((c) => ({
      id: snowflake(),
      type: 0,
      name: c.name,
      guild_id: id,
      position: 0,
      nsfw: false,
      topic: null,
      last_message_id: null,
      rate_limit_per_user: 0,
      parent_id: null,
      permission_overwrites: c.deny ? [{ id: guild.botRoleId, type: 0, allow: "0", deny: String(c.deny) }] : [],
    }));
    for (const c of made) this.allChannels.set(c.id, c);
    this.guildList.push({ guild, channels: made });
    this.dispatchToGuild(id, Intents.Guilds, "GUILD_CREATE", this.guildPayload(guild, made));
    return { guild, channels: made };
  }

  /** Permissions the bot's role overwrite denies in a channel (a thread inherits its parent's). */
  private botDenied(channelId: string): bigint {
    const channel = this.allChannels.get(channelId);
    const parent = channel?.thread_metadata && channel.parent_id ? this.allChannels.get(channel.parent_id) : undefined;
    const ow = [...(channel?.permission_overwrites ?? []), ...(parent?.permission_overwrites ?? [])] as Json[];
    return ow.filter((o) => o.id === this.guild.botRoleId).reduce((acc, o) => acc | BigInt(o.deny ?? "0"), 0n);
  }

  /**
   * Dispatch a MESSAGE_CREATE as if a user posted. `mentionBot` prepends `<@bot>` to the content;
   * `replyTo` makes it a reply (type 19) to a stored message, pinging its author unless `pingReply: false`.
   */
  sendMessage(opts: {
    channelId?: string;
    author?: EmuUser;
    content: string;
    mentionBot?: boolean;
    mentions?: EmuUser[];
    mentionRoles?: string[];
    mentionEveryone?: boolean;
    replyTo?: string;
    pingReply?: boolean;
    /** Attachments (e.g. `[{ filename: "photo.png" }]`), link-preview embeds and stickers the message carries. */
    attachments?: Json[];
    embeds?: Json[];
    stickers?: Json[];
  }): Json {
    const author = opts.author ?? this.users.alice;
    const channel = this.allChannels.get(opts.channelId ?? this.channels.general.id);
    if (!channel) throw new Error(`unknown channel ${opts.channelId}`);
    let content = opts.content;
    const mentions = [...(opts.mentions ?? [])];
    if (opts.mentionBot) {
      content = `<@${this.botUser.id}> ${content}`;
      mentions.push(this.botUser);
    }
    let referenced: Json;
    if (opts.replyTo) {
      referenced = this.messages.get(opts.replyTo);
      if (!referenced) throw new Error(`unknown message ${opts.replyTo}`);
      if (opts.pingReply !== false && !mentions.some((m) => m.id === referenced.author.id)) mentions.push(referenced.author);
    }
    const everyone = opts.mentionEveryone ?? /@(everyone|here)/.test(content);
    const message: Json = {
      id: snowflake(),
      channel_id: channel.id,
      author,
      content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: everyone,
      mentions: mentions.map((m) => ({ ...m })),
      mention_roles: opts.mentionRoles ?? [...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1]),
      attachments: (opts.attachments ?? []).map((a) => ({
        id: snowflake(),
        size: 1024,
        url: `${this.url}/attachments/${a.filename}`,
        proxy_url: `${this.url}/attachments/${a.filename}`,
        ...a,
      })),
      embeds: opts.embeds ?? [],
      ...(opts.stickers && { sticker_items: opts.stickers.map((st) => ({ id: snowflake(), format_type: 1, ...st })) }),
      pinned: false,
      type: referenced ? 19 : 0,
      flags: 0,
      components: [],
      nonce: snowflake(),
    };
    if (referenced) {
      message.message_reference = { type: 0, message_id: referenced.id, channel_id: channel.id, ...(channel.guild_id && { guild_id: channel.guild_id }) };
      message.referenced_message = referenced;
    }
    this.storeMessage(message);
    this.dispatchMessageCreate(message);
    return message;
  }

  /** A DM from `author` to the bot. */
  sendDM(opts: { author?: EmuUser; content: string }): Json {
    const author = opts.author ?? this.users.alice;
    return this.sendMessage({ channelId: this.dmChannel(author).id, author, content: opts.content });
  }

  /** Dispatch an APPLICATION_COMMAND interaction (chat input). Option types come from the registered command when known. */
  sendSlashCommand(opts: {
    name: string;
    options?: Record<string, string | number | boolean>;
    user?: EmuUser;
    channelId?: string;
    /** The member's permissions in the channel (bitfield string); default: all. */
    permissions?: string;
    /** Attachment options: uploaded to the emulator's CDN (served at /attachments/<id>/<name>) and sent resolved. */
    attachments?: Record<string, EmuAttachment>;
  }): InteractionState {
    return this.sendCommandInteraction(InteractionType.ApplicationCommand, opts);
  }

  /** Files uploaded as attachments, by id (the CDN route serves them). */
  readonly cdn = new Map<string, EmuAttachment & { id: string }>();
  /** Paths requested from the CDN route. */
  readonly cdnRequests: string[] = [];

  /** Dispatch an APPLICATION_COMMAND_AUTOCOMPLETE interaction; `focused` names the option being typed. */
  sendAutocomplete(opts: {
    name: string;
    options?: Record<string, string | number | boolean>;
    focused: string;
    user?: EmuUser;
    channelId?: string;
  }): InteractionState {
    return this.sendCommandInteraction(InteractionType.Autocomplete, opts);
  }

  /**
   * Dispatch a message command (right-click a message → Apps → `name`): an APPLICATION_COMMAND
   * interaction of command type 3 (MESSAGE) whose data carries the target message in
   * resolved.messages, its content included whatever the bot's intents (as Discord does).
   */
  sendMessageCommand(opts: { name: string; messageId: string; user?: EmuUser; permissions?: string }): InteractionState {
    const message = this.messages.get(opts.messageId);
    if (!message) throw new Error(`unknown message ${opts.messageId}`);
    const channel = this.allChannels.get(message.channel_id);
    const registered = [...(channel?.guild_id ? (this.commands.get(channel.guild_id) ?? []) : []), ...(this.commands.get("global") ?? [])].find(
      (c) => c.name === opts.name && c.type === 3,
    );
    const data = {
      id: registered?.id ?? snowflake(),
      name: opts.name,
      type: 3,
      target_id: message.id,
      resolved: { messages: { [message.id]: { ...message, ...(channel?.guild_id && { guild_id: channel.guild_id }) } } },
      ...(channel?.guild_id && { guild_id: channel.guild_id }),
    };
    return this.createInteraction(InteractionType.ApplicationCommand, data, opts.user, message.channel_id, undefined, opts.permissions);
  }

  /** Dispatch a MESSAGE_COMPONENT (button) interaction on a message the bot sent. */
  clickButton(opts: { messageId: string; customId: string; user?: EmuUser }): InteractionState {
    const message = this.messages.get(opts.messageId);
    if (!message) throw new Error(`unknown message ${opts.messageId}`);
    const buttons = (message.components ?? []).flatMap((r: Json) => r.components ?? []);
    if (!buttons.some((b: Json) => b.custom_id === opts.customId)) throw new Error(`message ${opts.messageId} has no button ${opts.customId}`);
    return this.createInteraction(InteractionType.MessageComponent, { custom_id: opts.customId, component_type: 2 }, opts.user, message.channel_id, message);
  }

  /** First recorded request matching `pred` (already recorded or arriving within `timeoutMs`). */
  waitForRequest(pred: (r: RecordedRequest) => boolean, timeoutMs = 5000): Promise<RecordedRequest> {
    const found = this.requests.find(pred);
    if (found) return Promise.resolve(found);
    return this.waitFor("request", pred, timeoutMs, "request");
  }

  /** Recorded requests of one interaction: its callback, original-response edits and follow-ups. */
  requestsFor(interaction: { id: string; token: string }): RecordedRequest[] {
    return this.requests.filter((r) => r.path.startsWith(`/interactions/${interaction.id}/`) || r.path.includes(`/${interaction.token}`));
  }

  /** Wait until an interaction has a message response (callback type 4/7, or a deferred reply edited). */
  async waitForInteractionResponse(ia: InteractionState, timeoutMs = 10000): Promise<RecordedRequest> {
    return this.waitForRequest(
      (r) =>
        r.status < 300 &&
        ((r.path === `/interactions/${ia.id}/${ia.token}/callback` && [4, 7, 8].includes(r.body?.type)) ||
          (r.method === "PATCH" && r.path.startsWith(`/webhooks/${this.application.id}/${ia.token}/messages/`)) ||
          (r.method === "POST" && r.path === `/webhooks/${this.application.id}/${ia.token}`)),
      timeoutMs,
    );
  }

  /** Messages the bot created in a channel, oldest first. */
  botMessages(channelId?: string): Json[] {
    return [...this.messages.values()].filter((m) => m.author.id === this.botUser.id && (!channelId || m.channel_id === channelId));
  }

  /** Make matching REST requests fail (`times` times) with `status` (429 carries retry_after). */
  injectFault(fault: RestFault): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /**
   * Close the bot's gateway socket with a close code (e.g. 4000 → discord.js resumes; 4004 → auth
   * failed). Codes after which Discord wants a new session (4007 invalid seq, 4009 session timed
   * out) also forget the session, so a RESUME is answered with op 9 (invalid session).
   */
  closeGateway(code = 4000, reason = "emulator close", shard?: number): void {
    const s = this.sessionOfShard(shard);
    const ws = s?.ws;
    if (s && (code === 4007 || code === 4009)) this.sessions.delete(s.id);
    if (ws && ws.readyState === WebSocket.OPEN) ws.close(code, reason);
  }

  /** Drop the gateway TCP connection without a close frame: the client sees 1006 (abnormal closure) and resumes. */
  dropGateway(shard?: number): void {
    this.sessionOfShard(shard)?.ws?.terminate();
  }

  /** Hold matching REST requests for `ms` before handling them (a slow Discord). */
  injectDelay(delay: RestDelay): void {
    this.delays.push({ ...delay, remaining: delay.times ?? Number.POSITIVE_INFINITY });
  }

  clearDelays(): void {
    this.delays = [];
  }

  /** Forget recorded requests, frames, pings, messages and interactions (long runs measuring memory). */
  clearRecords(): void {
    this.requests.length = 0;
    this.gatewayFrames.length = 0;
    this.pings.length = 0;
    this.gatewayCloses.length = 0;
    this.messages.clear();
    this.interactions.clear();
    this.nonces.clear();
    this.deliveredIds.clear();
    this.deliveries.clear();
    for (const s of this.sessions.values()) s.backlog.length = 0;
  }

  /** Ask the client to reconnect (op 7). */
  requestReconnect(shard?: number): void {
    this.sendRaw(this.sessionOfShard(shard)?.ws, { op: 7, d: null });
  }

  /** Invalidate the session (op 9). */
  invalidateSession(resumable = false, shard?: number): void {
    const s = this.sessionOfShard(shard);
    if (!s) return;
    if (!resumable) this.sessions.delete(s.id);
    this.sendRaw(s.ws, { op: 9, d: resumable });
  }

  /** Dispatch an arbitrary gateway event to the connected client (respects nothing; for edge cases). */
  dispatch(t: string, d: Json): void {
    if (this.current) this.dispatchTo(this.current, t, d);
  }

  // ───────────────────────────── internals: gateway ─────────────────────────────

  /** A shard's session (`undefined`: the session identified or resumed last). */
  private sessionOfShard(shard: number | undefined): Session | null {
    return shard === undefined ? this.current : (this.shardSessions.get(shard) ?? null);
  }

  /** The session that receives a guild's events (no guild: a DM, shard 0), if any. */
  private sessionFor(guildId: string | undefined): Session | null {
    return this.shardSessions.get(shardOfGuild(guildId, this.shardCount)) ?? null;
  }

  /** Dispatches a guild event to the shard that receives that guild, when it asked for `intent`. */
  private dispatchToGuild(guildId: string | undefined, intent: number, t: string, d: Json): void {
    const s = this.sessionFor(guildId);
    if (s && s.intents & intent) this.dispatchTo(s, t, d);
  }

  private waitFor<T>(event: string, pred: (x: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const onEvent = (x: T) => {
        if (!pred(x)) return;
        clearTimeout(timer);
        this.off(event, onEvent);
        resolve(x);
      };
      const timer = setTimeout(() => {
        this.off(event, onEvent);
        reject(new Error(`emulator: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.on(event, onEvent);
    });
  }

  private onSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    let session: Session | null = null;
    ws.on("close", (code: number) => {
      this.sockets.delete(ws);
      if (session && session.ws === ws) session.ws = null;
      this.gatewayCloses.push({ at: Date.now(), code });
      this.emit("gatewayClose", code);
    });
    ws.on("message", (raw) => {
      let payload: Json;
      try {
        payload = JSON.parse(String(raw));
      } catch {
        return ws.close(4002, "Error while decoding payload.");
      }
      const d = payload.d && typeof payload.d === "object" && "token" in payload.d ? { ...payload.d, token: "[token]" } : payload.d;
      this.frame({ at: Date.now(), direction: "in", op: payload.op, d });
      switch (payload.op) {
        case 1: // heartbeat
          this.sendRaw(ws, { op: 11 });
          return;
        case 2: {
          // identify
          if (session) return ws.close(4005, "Already authenticated.");
          if (payload.d?.token !== this.token) return ws.close(4004, "Authentication failed.");
          const intents = Number(payload.d.intents ?? 0);
          if (intents & PRIVILEGED & ~this.allowedPrivilegedIntents) return ws.close(4014, "Disallowed intent(s).");
          const shard: [number, number] = payload.d.shard ?? [0, 1];
          const validShard =
            Array.isArray(shard) && shard.length === 2 && shard.every((x) => Number.isInteger(x)) && shard[1] >= 1 && shard[0] >= 0 && shard[0] < shard[1];
          if (!validShard) return ws.close(4010, "Invalid shard.");
          session = { id: randomBytes(16).toString("hex"), seq: 0, intents, shard, ws, backlog: [] };
          this.sessions.set(session.id, session);
          this.current = session;
          // A new shard count (the bot was resharded) replaces every shard's session.
          if (shard[1] !== this.shardCount) this.shardSessions.clear();
          this.shardCount = shard[1];
          this.shardSessions.set(shard[0], session);
          this.socketShard.set(ws, shard[0]);
          const mine = this.guildList.filter((g) => shardOfGuild(g.guild.id, shard[1]) === shard[0]);
          this.dispatchTo(session, "READY", {
            v: 10,
            user: { ...this.botUser, verified: true, mfa_enabled: false, flags: 0, email: null },
            guilds: mine.map((g) => ({ id: g.guild.id, unavailable: true })),
            session_id: session.id,
            resume_gateway_url: this.gatewayUrl,
            session_type: "normal",
            shard,
            application: { id: this.application.id, flags: this.application.flags },
            private_channels: [],
            presences: [],
            relationships: [],
            guild_join_requests: [],
            user_settings: {},
            geo_ordered_rtc_regions: [],
            auth_session_id_hash: "",
          });
          if (intents & Intents.Guilds) for (const g of mine) this.dispatchTo(session, "GUILD_CREATE", this.guildPayload(g.guild, g.channels));
          this.emit("ready");
          return;
        }
        case 6: {
          // resume
          const s = this.sessions.get(payload.d?.session_id);
          if (!s || payload.d?.token !== this.token) {
            this.sendRaw(ws, { op: 9, d: false });
            return;
          }
          if (s.ws && s.ws !== ws && s.ws.readyState === WebSocket.OPEN) s.ws.close(4000, "Session resumed elsewhere");
          s.ws = ws;
          session = s;
          this.current = s;
          this.socketShard.set(ws, s.shard[0]);
          const from = Number(payload.d.seq ?? 0);
          for (const ev of s.backlog.filter((e) => e.s > from)) this.sendRaw(ws, { op: 0, t: ev.t, s: ev.s, d: ev.d });
          this.dispatchTo(s, "RESUMED", {});
          this.emit("ready");
          this.emit("resumed");
          return;
        }
        case 3: // presence update
        case 4: // voice state
        case 8: // request guild members
          return;
        default:
          ws.close(4001, "Unknown opcode.");
      }
    });
    this.sendRaw(ws, { op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs } });
  }

  /** The shard id each gateway socket identified or resumed as. */
  private socketShard = new WeakMap<WebSocket, number>();

  private sendRaw(ws: WebSocket | null | undefined, payload: Json): void {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (payload.op === 0 && (payload.t === "MESSAGE_CREATE" || payload.t === "INTERACTION_CREATE")) {
      this.deliveredIds.add(payload.d.id);
      const shards = this.deliveries.get(payload.d.id) ?? [];
      shards.push(this.socketShard.get(ws) ?? 0);
      this.deliveries.set(payload.d.id, shards);
    }
    this.frame({ at: Date.now(), direction: "out", op: payload.op, t: payload.t ?? null, s: payload.s ?? null, d: payload.d });
    ws.send(JSON.stringify({ t: null, s: null, ...payload }));
  }

  private frame(f: GatewayFrame): void {
    this.gatewayFrames.push(f);
    if (this.verbose) console.error(`[emu ws ${f.direction}] op=${f.op}${f.t ? ` t=${f.t}` : ""}`);
    this.emit("frame", f);
  }

  private dispatchTo(s: Session, t: string, d: Json): void {
    const ev = { s: ++s.seq, t, d };
    s.backlog.push(ev);
    if (s.backlog.length > 1000) s.backlog.shift();
    this.sendRaw(s.ws, { op: 0, ...ev });
  }

  private dispatchMessageCreate(message: Json): void {
    const channel = this.allChannels.get(message.channel_id);
    const s = this.sessionFor(channel?.guild_id);
    if (!s) return;
    const isDM = channel?.type === 1;
    if (!(s.intents & (isDM ? Intents.DirectMessages : Intents.GuildMessages))) return;
    // Discord includes the channel type, which lets clients build a partial DM channel they never cached.
    let d: Json = { ...message, channel_type: channel?.type ?? 0 };
    if (!isDM) {
      d.guild_id = channel?.guild_id;
      d.member = this.memberPayload(message.author, false);
    }
    // Without MESSAGE_CONTENT, Discord blanks content except in DMs, the bot's own messages and messages that mention it.
    const visible = isDM || message.author.id === this.botUser.id || message.mentions.some((m: Json) => m.id === this.botUser.id);
    if (!(s.intents & Intents.MessageContent) && !visible) d = { ...d, content: "", embeds: [], attachments: [], components: [] };
    this.dispatchTo(s, "MESSAGE_CREATE", d);
  }

  private guildPayload(
    g: DiscordEmulator["guild"] = this.guild,
    channels: Channel[] = Object.values(this.channels),
    threads: Channel[] = this.threads.filter((t) => t.guild_id === g.id),
  ): Json {
    const role = (id: string, name: string, position: number, permissions: string, extra: Json = {}) => ({
      id,
      name,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position,
      permissions,
      managed: false,
      mentionable: false,
      flags: 0,
      ...extra,
    });
    return {
      id: g.id,
      name: g.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: g.ownerId,
      region: null,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 1,
      explicit_content_filter: 0,
      mfa_level: 0,
      nsfw_level: 0,
      premium_tier: 0,
      features: [],
      emojis: [],
      stickers: [],
      roles: [
        role(g.everyoneRoleId, "@everyone", 0, "1071698660929"),
        role(g.botRoleId, "citebot", 1, "309237729280", { managed: true, tags: { bot_id: this.botUser.id } }),
        role(g.modRoleId, "Moderators", 2, "1099511627775", { mentionable: true }),
      ],
      system_channel_id: this.channels.general.id,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      vanity_url_code: null,
      premium_subscription_count: 0,
      preferred_locale: "en-US",
      max_video_channel_users: 25,
      max_members: 500000,
      premium_progress_bar_enabled: false,
      application_id: null,
      joined_at: new Date().toISOString(),
      large: false,
      unavailable: false,
      lazy: true,
      member_count: this.members.length,
      voice_states: [],
      presences: [],
      threads: threads.map((t) => ({ ...t })),
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      channels: channels.map((c, i) => ({ ...c, guild_id: undefined, position: i })),
      members: this.members.map((u) => this.memberPayload(u, true, g)),
    };
  }

  private memberPayload(u: EmuUser, withUser: boolean, g: DiscordEmulator["guild"] = this.guild): Json {
    const roles = u.id === this.botUser.id ? [g.botRoleId] : u.id === this.users.bob.id ? [g.modRoleId] : [];
    return {
      ...(withUser && { user: u }),
      roles,
      nick: null,
      avatar: null,
      banner: null,
      premium_since: null,
      joined_at: new Date(Date.now() - 86400000).toISOString(),
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null,
    };
  }

  // ───────────────────────────── internals: interactions ─────────────────────────────

  private sendCommandInteraction(
    type: number,
    opts: {
      name: string;
      options?: Record<string, string | number | boolean>;
      focused?: string;
      user?: EmuUser;
      channelId?: string;
      permissions?: string;
      attachments?: Record<string, EmuAttachment>;
    },
  ): InteractionState {
    const channelId = opts.channelId ?? this.channels.general.id;
    const channel = this.allChannels.get(channelId);
    const registered = [...(channel?.guild_id ? (this.commands.get(channel.guild_id) ?? []) : []), ...(this.commands.get("global") ?? [])].find(
      (c) => c.name === opts.name && (c.type ?? 1) === 1,
    );
    const options: Json[] = Object.entries(opts.options ?? {}).map(([name, value]) => {
      const def = registered?.options?.find((o: Json) => o.name === name);
      const optType = def?.type ?? (typeof value === "boolean" ? 5 : typeof value === "number" ? (Number.isInteger(value) ? 4 : 10) : 3);
      // While typing, Discord sends the focused option's raw text, whatever its type.
      return { name, type: optType, value, ...(opts.focused === name && { focused: true }) };
    });
    const resolved: Json = {};
    for (const [name, a] of Object.entries(opts.attachments ?? {})) {
      const id = snowflake();
      this.cdn.set(id, { ...a, id });
      const url = `${this.url}/attachments/${id}/${encodeURIComponent(a.filename)}`;
      const size = a.size ?? Buffer.byteLength(a.content);
      (resolved.attachments ??= {})[id] = { id, filename: a.filename, size, url, proxy_url: url, ...(a.contentType && { content_type: a.contentType }) };
      options.push({ name, type: 11, value: id });
    }
    const data = {
      id: registered?.id ?? snowflake(),
      name: opts.name,
      type: 1,
      options,
      ...(resolved.attachments && { resolved }),
      ...(channel?.guild_id && { guild_id: channel.guild_id }),
    };
    return this.createInteraction(type, data, opts.user, channelId, undefined, opts.permissions);
  }

  private createInteraction(
    type: number,
    data: Json,
    u: EmuUser | undefined,
    channelId: string,
    message?: Json,
    permissions = "2251799813685247",
  ): InteractionState {
    const who = u ?? this.users.alice;
    const channel = this.allChannels.get(channelId);
    if (!channel) throw new Error(`unknown channel ${channelId}`);
    const inGuild = !!channel.guild_id;
    const id = snowflake();
    const token = `aW50ZXJhY3Rpb24${randomBytes(24).toString("base64url")}`;
    const payload: Json = {
      id,
      application_id: this.application.id,
      type,
      data,
      token,
      version: 1,
      channel_id: channelId,
      channel: inGuild ? { ...channel } : { id: channel.id, type: 1, recipients: [who], last_message_id: null, flags: 0 },
      locale: "en-US",
      app_permissions: String(2248473465835073n & ~this.botDenied(channelId)),
      entitlements: [],
      authorizing_integration_owners: inGuild ? { "0": channel.guild_id } : { "1": who.id },
      context: inGuild ? 0 : 1,
      attachment_size_limit: 10485760,
      ...(message && { message }),
    };
    if (inGuild) {
      payload.guild_id = channel.guild_id;
      payload.guild = { id: channel.guild_id, locale: "en-US", features: [] };
      payload.guild_locale = "en-US";
      payload.member = { ...this.memberPayload(who, true), permissions };
    } else payload.user = who;
    const state: InteractionState = {
      id,
      token,
      type,
      createdAt: Date.now(),
      channelId,
      guildId: channel.guild_id,
      user: who,
      acknowledged: false,
      followups: [],
      payload,
      message,
    };
    this.interactions.set(id, state);
    const session = this.sessionFor(channel.guild_id);
    if (session) this.dispatchTo(session, "INTERACTION_CREATE", payload);
    return state;
  }

  private interactionByToken(token: string): InteractionState | undefined {
    for (const ia of this.interactions.values()) if (ia.token === token) return ia;
    return undefined;
  }

  // ───────────────────────────── internals: REST ─────────────────────────────

  private async onHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url || "http://127.0.0.1");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const contentType = req.headers["content-type"];
    let body: Json;
    const files: RecordedRequest["files"] = [];
    try {
      if (raw.length && contentType?.startsWith("application/json")) body = JSON.parse(raw.toString("utf8"));
      else if (raw.length && contentType?.startsWith("multipart/form-data")) {
        const form = await new Request("http://127.0.0.1/", { method: "POST", headers: { "content-type": contentType }, body: raw }).formData();
        for (const [field, value] of form.entries()) {
          if (typeof value === "string") {
            if (field === "payload_json") body = JSON.parse(value);
          } else files.push({ field, filename: value.name, size: value.size });
        }
      } else if (raw.length) body = raw.toString("utf8");
    } catch {
      return this.respond(res, this.record(req, url, undefined, contentType, body, files), { status: 400, body: { message: "400: Bad Request", code: 50109 } });
    }

    // The CDN: attachments uploaded with sendSlashCommand.
    const cdn = /^\/attachments\/(\d+)\/[^/]+$/.exec(url.pathname);
    if (cdn && req.method === "GET") {
      this.cdnRequests.push(url.pathname);
      const a = this.cdn.get(cdn[1]!);
      if (!a) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": a.contentType ?? "application/octet-stream", "content-length": String(Buffer.byteLength(a.content)) });
      return void res.end(a.content);
    }
    const rec = this.record(req, url, url.pathname, contentType, body, files);
    this.emit("requestStart", rec);
    if (!url.pathname.startsWith("/api/")) return this.respond(res, rec, { status: 404, body: { message: "404: Not Found", code: 0 } });

    const delay = this.delays.find((d) => d.remaining > 0 && (!d.method || d.method.toUpperCase() === rec.method) && matchPath(d.path, rec.path));
    if (delay) {
      delay.remaining--;
      await new Promise((r) => setTimeout(r, delay.ms));
    }

    const fault = this.faults.find((f) => f.remaining > 0 && (!f.method || f.method.toUpperCase() === rec.method) && matchPath(f.path, rec.path));
    if (fault) {
      fault.remaining--;
      rec.fault = true;
      if (fault.status === 0) {
        // A connection reset: no HTTP response at all.
        this.requests.push(rec);
        this.emit("request", rec);
        req.socket.destroy();
        return;
      }
      if (fault.after) {
        // Do the work, then lose the answer.
        for (const route of this.routes) {
          const m = route.method === rec.method && route.re.exec(rec.path);
          if (!m) continue;
          try {
            await route.handler({ params: m.slice(1), body, query: rec.query, authorized: rec.authorized });
          } catch {
            // the fault is answered below either way
          }
          break;
        }
      }
      if (fault.status === 429) {
        const retryAfter = fault.retryAfter ?? 0.05;
        return this.respond(res, rec, {
          status: 429,
          headers: {
            "retry-after": String(retryAfter),
            "x-ratelimit-scope": fault.global ? "global" : "user",
            ...(fault.global && { "x-ratelimit-global": "true" }),
          },
          body: fault.body ?? { message: "You are being rate limited.", retry_after: retryAfter, global: !!fault.global, code: fault.global ? 0 : undefined },
        });
      }
      return this.respond(res, rec, { status: fault.status, body: fault.body ?? { message: `${fault.status}: Injected fault`, code: 0 } });
    }

    for (const route of this.routes) {
      if (route.method !== rec.method) continue;
      const m = route.re.exec(rec.path);
      if (!m) continue;
      if (route.auth && !rec.authorized) {
        return this.respond(res, rec, { status: 401, body: { message: "401: Unauthorized", code: 0 } });
      }
      try {
        const out = await route.handler({ params: m.slice(1), body, query: rec.query, authorized: rec.authorized });
        return this.respond(res, rec, out);
      } catch (err) {
        return this.respond(res, rec, { status: 500, body: { message: `emulator error: ${(err as Error).message}`, code: 0 } });
      }
    }
    this.respond(res, rec, { status: 404, body: { message: "404: Not Found", code: 0 } });
  }

  private record(
    req: http.IncomingMessage,
    url: URL,
    pathname: string | undefined,
    contentType: string | undefined,
    body: Json,
    files: RecordedRequest["files"],
  ): RecordedRequest {
    const auth = req.headers.authorization;
    return {
      seq: ++this.reqSeq,
      at: Date.now(),
      method: (req.method ?? "GET").toUpperCase(),
      path: safeDecode(pathname ?? url.pathname).replace(/^\/api(\/v\d+)?/, ""),
      query: Object.fromEntries(url.searchParams),
      authorized: auth === `Bot ${this.token}`,
      contentType,
      body,
      files,
      status: 0,
      response: undefined,
    };
  }

  private respond(res: http.ServerResponse, rec: RecordedRequest, out: { status: number; body?: Json; headers?: Record<string, string> }): void {
    rec.status = out.status;
    rec.response = out.body;
    this.requests.push(rec);
    if (this.verbose) console.error(`[emu rest] ${rec.method} ${rec.path} → ${rec.status}`);
    const headers: Record<string, string> = { ...out.headers };
    let payload: string | undefined;
    if (out.body !== undefined && out.status !== 204) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(out.body);
    }
    res.writeHead(out.status, headers);
    res.end(payload);
    this.emit("request", rec);
  }

  private route(method: string, pattern: string, handler: Handler, auth = true): void {
    const re = new RegExp(`^${pattern.replace(/:\w+/g, "([^/]+)")}/?$`);
    this.routes.push({ method, re, auth, handler });
  }

  private defineRoutes(): void {
    const ok = (body: Json, status = 200) => ({ status, body });
    const notFound = (message: string, code: number) => ({ status: 404, body: { message, code } });
    const invalid = (problems: string[]) => ({ status: 400, body: { message: "Invalid Form Body", code: 50035, errors: problems } });

    this.route("GET", "/gateway/bot", () =>
      ok({
        url: this.gatewayUrl,
        shards: this.recommendedShards,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14400000, max_concurrency: this.maxConcurrency },
      }),
    );
    this.route("GET", "/gateway", () => ok({ url: this.gatewayUrl }), false);
    this.route("GET", "/users/@me", () => ok({ ...this.botUser, verified: true, mfa_enabled: false, flags: 0 }));
    this.route("GET", "/applications/@me", () => ok({ ...this.application, bot: this.botUser, flags: this.application.flags }));
    this.route("GET", "/oauth2/applications/@me", () => ok({ ...this.application, bot: this.botUser }));

    this.route("GET", "/channels/:id", ({ params }) => {
      const c = this.allChannels.get(params[0]!);
      return c ? ok(c) : notFound("Unknown Channel", 10003);
    });
    this.route("GET", "/channels/:id/messages/:mid", ({ params }) => {
      const m = this.messages.get(params[1]!);
      return m && m.channel_id === params[0] ? ok(m) : notFound("Unknown Message", 10008);
    });
    this.route("POST", "/channels/:id/typing", ({ params }) => (this.allChannels.has(params[0]!) ? { status: 204 } : notFound("Unknown Channel", 10003)));
    this.route("POST", "/channels/:id/messages", ({ params, body }) => {
      const channel = this.allChannels.get(params[0]!);
      if (!channel) return notFound("Unknown Channel", 10003);
      const problems = messagePayloadProblems(body);
      if (problems.length) return invalid(problems);
      if (isEmptyMessage(body)) return { status: 400, body: { message: "Cannot send an empty message", code: 50006 } };
      if (channel.thread_metadata) {
        const denied = this.botDenied(channel.id);
        if (denied & SEND_MESSAGES_IN_THREADS) return { status: 403, body: { message: "Missing Permissions", code: 50013 } };
        // (The bot's roles have no Manage Threads, which would let it post anyway.)
        if (channel.thread_metadata.locked) return { status: 400, body: { message: "Thread is locked", code: 160005 } };
        if (channel.thread_metadata.archived) return { status: 400, body: { message: "Thread is archived", code: 50083 } };
      }
      let referenced: Json;
      if (body.message_reference?.message_id) {
        referenced = this.messages.get(body.message_reference.message_id);
        if (!referenced && body.message_reference.fail_if_not_exists !== false) return invalid(["message_reference: Unknown message"]);
      }
      // enforce_nonce: a second create with the same nonce (same author, same channel, within minutes) returns the first message.
      const nonceKey = body.enforce_nonce && body.nonce !== undefined ? `${channel.id}:${this.botUser.id}:${body.nonce}` : undefined;
      const earlier = nonceKey ? this.messages.get(this.nonces.get(nonceKey) ?? "") : undefined;
      if (earlier) return ok(earlier);
      const message = this.botMessage(channel, body, referenced);
      if (this.botDenied(channel.id) & EMBED_LINKS) message.embeds = []; // Discord drops them silently
      if (nonceKey) {
        message.nonce = body.nonce;
        this.nonces.set(nonceKey, message.id);
      }
      this.storeMessage(message);
      this.recordPings(message, body, referenced);
      this.dispatchMessageCreate(message);
      return ok(message);
    });
    // Start a thread from a message: the thread's id is the message's; THREAD_CREATE follows.
    this.route("POST", "/channels/:id/messages/:mid/threads", ({ params, body }) => {
      const channel = this.allChannels.get(params[0]!);
      if (!channel) return notFound("Unknown Channel", 10003);
      if (channel.type !== 0 && channel.type !== 5) return { status: 400, body: { message: "Cannot execute action on this channel type", code: 50024 } };
      const m = this.messages.get(params[1]!);
      if (!m || m.channel_id !== channel.id) return notFound("Unknown Message", 10008);
      if (this.botDenied(channel.id) & CREATE_PUBLIC_THREADS) return { status: 403, body: { message: "Missing Permissions", code: 50013 } };
      if (this.allChannels.has(m.id)) return { status: 400, body: { message: "A thread has already been created for this message", code: 160004 } };
      if (typeof body?.name !== "string" || body.name.trim().length < 1 || body.name.length > 100)
        return invalid(["name: Must be between 1 and 100 in length."]);
      const now = new Date().toISOString();
      const thread: Channel = {
        id: m.id,
        type: 11,
        guild_id: channel.guild_id,
        parent_id: channel.id,
        owner_id: this.botUser.id,
        name: body.name,
        last_message_id: null,
        rate_limit_per_user: body.rate_limit_per_user ?? 0,
        message_count: 0,
        member_count: 1,
        total_message_sent: 0,
        flags: 0,
        thread_metadata: {
          archived: false,
          auto_archive_duration: body.auto_archive_duration ?? 4320,
          archive_timestamp: now,
          locked: false,
          create_timestamp: now,
        },
        member: { id: m.id, user_id: this.botUser.id, join_timestamp: now, flags: 0 },
      };
      this.allChannels.set(thread.id, thread);
      this.threads.push(thread);
      m.flags = (m.flags ?? 0) | 32; // HAS_THREAD
      m.thread = thread;
      this.dispatchToGuild(thread.guild_id, Intents.Guilds, "THREAD_CREATE", { ...thread, newly_created: true });
      this.emit("threadCreate", thread);
      return { status: 201, body: thread };
    });
    this.route("PATCH", "/channels/:id/messages/:mid", ({ params, body }) => {
      const m = this.messages.get(params[1]!);
      if (!m || m.channel_id !== params[0]) return notFound("Unknown Message", 10008);
      if (m.author.id !== this.botUser.id) return { status: 403, body: { message: "Cannot edit a message authored by another user", code: 50005 } };
      const problems = messagePayloadProblems(body, { edit: true });
      if (problems.length) return invalid(problems);
      Object.assign(m, pickMessageFields(body), { edited_timestamp: new Date().toISOString() });
      return ok(m);
    });
    this.route("POST", "/users/@me/channels", ({ body }) => {
      const u = this.members.find((x) => x.id === body?.recipient_id);
      if (!u) return invalid(["recipient_id: Unknown user"]);
      return ok(this.dmChannel(u));
    });

    // Interaction callback: no bot auth, the interaction token authenticates.
    this.route(
      "POST",
      "/interactions/:id/:token/callback",
      ({ params, body, query }) => {
        const ia = this.interactions.get(params[0]!);
        if (!ia || ia.token !== params[1]) return notFound("Unknown interaction", 10062);
        if (Date.now() - ia.createdAt > this.interactionAckDeadlineMs) return notFound("Unknown interaction", 10062);
        if (ia.acknowledged) return { status: 400, body: { message: "Interaction has already been acknowledged.", code: 40060 } };
        const type = body?.type;
        const data = body?.data ?? {};
        const allowed: Record<number, number[]> = {
          [InteractionType.ApplicationCommand]: [4, 5, 9],
          [InteractionType.MessageComponent]: [4, 5, 6, 7, 9],
          [InteractionType.Autocomplete]: [8],
        };
        if (!allowed[ia.type]?.includes(type)) return { status: 400, body: { message: "Interaction callback type invalid for this interaction", code: 50035 } };
        if (type === 8) {
          const problems = autocompleteProblems(data);
          if (problems.length) return invalid(problems);
        }
        if (type === 4 || type === 7) {
          const problems = messagePayloadProblems(data);
          if (problems.length) return invalid(problems);
          if (type === 4 && isEmptyMessage(data)) return { status: 400, body: { message: "Cannot send an empty message", code: 50006 } };
        }
        ia.acknowledged = true;
        ia.callbackType = type;
        let message: Json;
        if (type === 4 || type === 5) {
          const channel = this.allChannels.get(ia.channelId)!;
          message = this.botMessage(channel, type === 5 ? { flags: (data.flags ?? 0) | 128, content: "" } : data, undefined, ia);
          ia.original = message;
          this.storeMessage(message);
          if (type === 4) {
            this.recordPings(message, data, undefined);
            if (!(message.flags & EPHEMERAL)) this.dispatchMessageCreate(message);
          }
        } else if (type === 7 && ia.message) {
          const m = this.messages.get(ia.message.id) ?? ia.message;
          Object.assign(m, pickMessageFields(data), { edited_timestamp: new Date().toISOString() });
          message = m;
        }
        if (query.with_response === "true") {
          return ok({
            interaction: {
              id: ia.id,
              type: ia.type,
              activity_instance_id: null,
              response_message_id: message?.id,
              response_message_loading: type === 5,
              response_message_ephemeral: !!(message?.flags & EPHEMERAL),
            },
            resource: { type, ...(message && { message }) },
          });
        }
        return { status: 204 };
      },
      false,
    );

    const webhookMessage = (appId: string, token: string, mid: string): { ia?: InteractionState; m?: Json; err?: ReturnType<typeof notFound> } => {
      const ia = this.interactionByToken(token);
      if (!ia || appId !== this.application.id) return { err: notFound("Unknown Webhook", 10015) };
      const m = mid === "@original" ? ia.original : (ia.followups.find((f) => f.id === mid) ?? (ia.message?.id === mid ? ia.message : undefined));
      if (!m) return { err: notFound("Unknown Message", 10008) };
      return { ia, m: this.messages.get(m.id) ?? m };
    };
    this.route(
      "GET",
      "/webhooks/:app/:token/messages/:mid",
      ({ params }) => {
        const { m, err } = webhookMessage(params[0]!, params[1]!, params[2]!);
        return err ?? ok(m);
      },
      false,
    );
    this.route(
      "PATCH",
      "/webhooks/:app/:token/messages/:mid",
      ({ params, body }) => {
        const { ia, m, err } = webhookMessage(params[0]!, params[1]!, params[2]!);
        if (err) return err;
        const problems = messagePayloadProblems(body, { edit: true });
        if (problems.length) return invalid(problems);
        const wasLoading = !!(m.flags & 128);
        Object.assign(m, pickMessageFields(body));
        if (wasLoading) {
          m.flags &= ~128;
          if (isEmptyMessage(m)) return { status: 400, body: { message: "Cannot send an empty message", code: 50006 } };
          this.recordPings(m, body, undefined);
          if (!(m.flags & EPHEMERAL)) this.dispatchMessageCreate(m);
        } else m.edited_timestamp = new Date().toISOString(); // edits notify no one
        if (ia && params[2] === "@original") ia.original = m;
        return ok(m);
      },
      false,
    );
    this.route(
      "DELETE",
      "/webhooks/:app/:token/messages/:mid",
      ({ params }) => {
        const { m, err } = webhookMessage(params[0]!, params[1]!, params[2]!);
        if (err) return err;
        this.messages.delete(m.id);
        return { status: 204 };
      },
      false,
    );
    this.route(
      "POST",
      "/webhooks/:app/:token",
      ({ params, body }) => {
        const ia = this.interactionByToken(params[1]!);
        if (!ia || params[0] !== this.application.id) return notFound("Unknown Webhook", 10015);
        if (!ia.acknowledged) return notFound("Unknown Webhook", 10015);
        const problems = messagePayloadProblems(body);
        if (problems.length) return invalid(problems);
        if (isEmptyMessage(body)) return { status: 400, body: { message: "Cannot send an empty message", code: 50006 } };
        const channel = this.allChannels.get(ia.channelId)!;
        const m = this.botMessage(channel, body, undefined, ia);
        ia.followups.push(m);
        this.storeMessage(m);
        this.recordPings(m, body, undefined);
        if (!(m.flags & EPHEMERAL)) this.dispatchMessageCreate(m);
        return ok(m);
      },
      false,
    );

    const putCommands =
      (key: string) =>
      ({ body }: { body: Json }) => {
        const problems = commandProblems(body);
        if (problems.length) return invalid(problems);
        const existing = this.commands.get(key) ?? [];
        const saved = (body as Json[]).map((c) => ({
          id: existing.find((e) => e.name === c.name)?.id ?? snowflake(),
          application_id: this.application.id,
          version: snowflake(),
          type: c.type ?? 1,
          default_member_permissions: c.default_member_permissions ?? null,
          nsfw: c.nsfw ?? false,
          ...(key !== "global" && { guild_id: key }),
          ...c,
        }));
        this.commands.set(key, saved);
        return ok(saved);
      };
    this.route("PUT", "/applications/:app/commands", (ctx) =>
      ctx.params[0] === this.application.id ? putCommands("global")(ctx) : { status: 403, body: { message: "Missing Access", code: 50001 } },
    );
    this.route("GET", "/applications/:app/commands", ({ params }) =>
      params[0] === this.application.id ? ok(this.commands.get("global") ?? []) : { status: 403, body: { message: "Missing Access", code: 50001 } },
    );
    this.route("PUT", "/applications/:app/guilds/:guild/commands", (ctx) => {
      if (ctx.params[0] !== this.application.id) return { status: 403, body: { message: "Missing Access", code: 50001 } };
      if (ctx.params[1] !== this.guild.id) return { status: 403, body: { message: "Missing Access", code: 50001 } };
      return putCommands(ctx.params[1]!)(ctx);
    });
    this.route("GET", "/applications/:app/guilds/:guild/commands", ({ params }) => ok(this.commands.get(params[1]!) ?? []));
  }

  private botMessage(channel: Channel, body: Json, referenced?: Json, ia?: InteractionState): Json {
    const m: Json = {
      id: snowflake(),
      channel_id: channel.id,
      author: this.botUser,
      content: body.content ?? "",
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: !!body.tts,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: body.embeds ?? [],
      components: body.components ?? [],
      pinned: false,
      type: ia ? 20 : referenced ? 19 : 0,
      flags: body.flags ?? 0,
      ...(ia && {
        application_id: this.application.id,
        webhook_id: this.application.id,
        interaction_metadata: { id: ia.id, type: ia.type, user: ia.user, authorizing_integration_owners: ia.payload.authorizing_integration_owners },
      }),
    };
    if (referenced) {
      m.message_reference = { type: 0, message_id: referenced.id, channel_id: channel.id, ...(channel.guild_id && { guild_id: channel.guild_id }) };
      m.referenced_message = referenced;
    }
    return m;
  }

  private storeMessage(m: Json): void {
    this.messages.set(m.id, m);
    const c = this.allChannels.get(m.channel_id);
    if (c) c.last_message_id = m.id;
  }

  /** Works out whom Discord would notify for `body.content`, honouring allowed_mentions, and records it. */
  private recordPings(message: Json, body: Json, referenced: Json | undefined): void {
    const content: string = typeof body?.content === "string" ? body.content : "";
    const am = body?.allowed_mentions;
    const parse: string[] = am ? (am.parse ?? []) : ["users", "roles", "everyone"];
    const userIds = [...content.matchAll(/<@!?(\d+)>/g)].map((m) => m[1]!);
    const roleIds = [...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1]!);
    const users = new Set(userIds.filter((id) => parse.includes("users") || am?.users?.includes(id)));
    const roles = roleIds.filter((id) => parse.includes("roles") || am?.roles?.includes(id));
    const everyone = parse.includes("everyone") && /@(everyone|here)/.test(content);
    if (referenced && (am ? am.replied_user === true : true)) users.add(referenced.author.id);
    message.mentions = [...users].map((id) => this.members.find((u) => u.id === id) ?? { id });
    message.mention_roles = roles;
    message.mention_everyone = everyone;
    if (users.size || roles.length || everyone) this.pings.push({ messageId: message.id, channelId: message.channel_id, users: [...users], roles, everyone });
  }
}

function safeDecode(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

function matchPath(p: string | RegExp, path: string): boolean {
  if (p instanceof RegExp) return p.test(path);
  return p.endsWith("*") ? path.startsWith(p.slice(0, -1)) : p === path;
}

function pickMessageFields(body: Json): Json {
  const out: Json = {};
  for (const k of ["content", "embeds", "components", "flags", "attachments"]) if (body?.[k] !== undefined) out[k] = body[k];
  return out;
}

/** A new guild id (a snowflake of about now) that a bot of `count` shards receives on shard `shard`. */
function guildIdOnShard(shard: number, count: number): string {
  for (let at = Date.now(); ; at++) {
    const id = snowflake(at);
    if (shardOfGuild(id, count) === shard) return id;
  }
}
