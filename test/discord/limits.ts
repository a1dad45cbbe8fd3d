// Discord's documented message limits, checked the way the API checks them. The emulator answers
// 400 (code 50035 "Invalid Form Body" / 50006 "Cannot send an empty message") when a payload breaks
// one, so a bot that oversteps a limit fails in tests exactly as it would against Discord.

export const LIMITS = {
  content: 2000,
  embeds: 10,
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footerText: 2048,
  authorName: 256,
  embedTotal: 6000,
  actionRows: 5,
  componentsPerRow: 5,
  buttonLabel: 80,
  customId: 100,
  choices: 25,
  choiceName: 100,
  choiceValue: 100,
} as const;

type Json = any; // payloads as sent on the wire, checked field by field

/** Validation problems as `path: message` strings; empty when the payload is acceptable. */
export function messagePayloadProblems(body: Json, _opts: { edit?: boolean } = {}): string[] {
  const problems: string[] = [];
  if (body == null || typeof body !== "object") return ["body: must be an object"];
  const { content, embeds, components } = body;
  if (content != null) {
    if (typeof content !== "string") problems.push("content: must be a string");
    else if (content.length > LIMITS.content) problems.push(`content: Must be ${LIMITS.content} or fewer in length.`);
  }
  if (embeds != null) {
    if (!Array.isArray(embeds)) problems.push("embeds: must be an array");
    else {
      if (embeds.length > LIMITS.embeds) problems.push(`embeds: Must be ${LIMITS.embeds} or fewer in length.`);
      let total = 0;
      embeds.forEach((e: Json, i: number) => {
        const p = `embeds.${i}`;
        const check = (v: unknown, max: number, where: string, required = false) => {
          if (v == null) {
            if (required) problems.push(`${p}.${where}: This field is required`);
            return;
          }
          if (typeof v !== "string") return problems.push(`${p}.${where}: must be a string`);
          if (required && v.trim().length === 0) problems.push(`${p}.${where}: This field is required`);
          if (v.length > max) problems.push(`${p}.${where}: Must be ${max} or fewer in length.`);
          total += v.length;
        };
        check(e.title, LIMITS.embedTitle, "title");
        check(e.description, LIMITS.embedDescription, "description");
        check(e.footer?.text, LIMITS.footerText, "footer.text", e.footer != null);
        check(e.author?.name, LIMITS.authorName, "author.name", e.author != null);
        if (e.url != null && !wellFormedUrl(e.url)) problems.push(`${p}.url: Not a well formed URL.`);
        if (e.author?.url != null && !wellFormedUrl(e.author.url)) problems.push(`${p}.author.url: Not a well formed URL.`);
        if (e.color != null && (!Number.isInteger(e.color) || e.color < 0 || e.color > 0xffffff))
          problems.push(`${p}.color: Int value should be between 0 and 16777215.`);
        const fields = e.fields ?? [];
        if (fields.length > LIMITS.embedFields) problems.push(`${p}.fields: Must be ${LIMITS.embedFields} or fewer in length.`);
        fields.forEach((f: Json, j: number) => {
          check(f.name, LIMITS.fieldName, `fields.${j}.name`, true);
          check(f.value, LIMITS.fieldValue, `fields.${j}.value`, true);
        });
        const hasSomething = e.title || e.description || fields.length || e.footer || e.author || e.image || e.thumbnail;
        if (!hasSomething) problems.push(`${p}: Embed must not be empty`);
      });
      if (total > LIMITS.embedTotal) problems.push(`embeds: Embed size exceeds maximum size of ${LIMITS.embedTotal}`);
    }
  }
  if (components != null) {
    if (!Array.isArray(components)) problems.push("components: must be an array");
    else {
      if (components.length > LIMITS.actionRows) problems.push(`components: Must be ${LIMITS.actionRows} or fewer in length.`);
      const ids = new Set<string>();
      components.forEach((row: Json, i: number) => {
        if (row.type !== 1) return problems.push(`components.${i}.type: Value must be one of {1}.`);
        const inner = row.components ?? [];
        if (inner.length === 0 || inner.length > LIMITS.componentsPerRow)
          problems.push(`components.${i}.components: Must be between 1 and ${LIMITS.componentsPerRow} in length.`);
        inner.forEach((c: Json, j: number) => {
          const q = `components.${i}.components.${j}`;
          if (c.type !== 2) return; // only buttons are checked in depth
          if (c.label != null && String(c.label).length > LIMITS.buttonLabel) problems.push(`${q}.label: Must be ${LIMITS.buttonLabel} or fewer in length.`);
          if (c.style === 5) {
            if (!c.url || !wellFormedUrl(c.url)) problems.push(`${q}.url: Not a well formed URL.`);
          } else {
            if (typeof c.custom_id !== "string" || c.custom_id.length === 0) problems.push(`${q}.custom_id: This field is required`);
            else if (c.custom_id.length > LIMITS.customId) problems.push(`${q}.custom_id: Must be ${LIMITS.customId} or fewer in length.`);
            else if (ids.has(c.custom_id)) problems.push(`${q}.custom_id: Component custom id cannot be duplicated`);
            else ids.add(c.custom_id);
          }
          if (!c.label && !c.emoji) problems.push(`${q}: A button needs a label or an emoji`);
        });
      });
    }
  }
  const am = body.allowed_mentions;
  if (am != null) {
    for (const v of am.parse ?? []) if (!["roles", "users", "everyone"].includes(v)) problems.push(`allowed_mentions.parse: invalid value ${v}`);
    if (am.parse?.includes("users") && am.users?.length) problems.push("allowed_mentions: parse:[users] and users are mutually exclusive");
    if (am.parse?.includes("roles") && am.roles?.length) problems.push("allowed_mentions: parse:[roles] and roles are mutually exclusive");
  }
  return problems;
}

/** True when a create (not an edit) would be an empty message (Discord code 50006). */
export function isEmptyMessage(body: Json): boolean {
  const hasContent = typeof body?.content === "string" && body.content.trim().length > 0;
  return (
    !hasContent &&
    !(body?.embeds?.length > 0) &&
    !(body?.components?.length > 0) &&
    !(body?.attachments?.length > 0) &&
    !(body?.sticker_ids?.length > 0) &&
    !body?.poll
  );
}

export function autocompleteProblems(data: Json): string[] {
  const problems: string[] = [];
  const choices = data?.choices;
  if (!Array.isArray(choices)) return ["data.choices: This field is required"];
  if (choices.length > LIMITS.choices) problems.push(`data.choices: Must be ${LIMITS.choices} or fewer in length.`);
  choices.forEach((c: Json, i: number) => {
    if (typeof c.name !== "string" || c.name.length < 1 || c.name.length > LIMITS.choiceName)
      problems.push(`data.choices.${i}.name: Must be between 1 and ${LIMITS.choiceName} in length.`);
    if (typeof c.value === "string" && (c.value.length < 1 || c.value.length > LIMITS.choiceValue))
      problems.push(`data.choices.${i}.value: Must be between 1 and ${LIMITS.choiceValue} in length.`);
  });
  return problems;
}

const NAME_RE = /^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

/** Checks a PUT of application commands like Discord does (names, descriptions, option order, limits). */
export function commandProblems(commands: Json): string[] {
  const problems: string[] = [];
  if (!Array.isArray(commands)) return ["body: must be an array"];
  if (commands.length > 100) problems.push("body: Must be 100 or fewer in length.");
  const names = new Set<string>();
  commands.forEach((c: Json, i: number) => {
    const p = `${i}`;
    const type = c.type ?? 1;
    // Menu commands (2 = user, 3 = message) may have spaces and capitals: 1–32 characters, no description.
    if (type !== 1) {
      if (typeof c.name !== "string" || c.name.length < 1 || c.name.length > 32) problems.push(`${p}.name: Command name is invalid`);
      if (c.description) problems.push(`${p}.description: Context menu commands cannot have a description`);
      if (c.options?.length) problems.push(`${p}.options: Context menu commands cannot have options`);
    } else if (typeof c.name !== "string" || !NAME_RE.test(c.name)) problems.push(`${p}.name: Command name is invalid`);
    else if (c.name !== c.name.toLowerCase()) problems.push(`${p}.name: Command name must be lower case`);
    if (names.has(`${type}:${c.name}`)) problems.push(`${p}.name: Application command names must be unique`);
    names.add(`${type}:${c.name}`);
    if (type === 1 && (typeof c.description !== "string" || c.description.length < 1 || c.description.length > 100))
      problems.push(`${p}.description: Must be between 1 and 100 in length.`);
    optionProblems(c.options ?? [], `${p}.options`, problems);
  });
  return problems;
}

function optionProblems(options: Json[], p: string, problems: string[]): void {
  if (options.length > 25) problems.push(`${p}: Must be 25 or fewer in length.`);
  let seenOptional = false;
  const names = new Set<string>();
  options.forEach((o: Json, i: number) => {
    const q = `${p}.${i}`;
    if (typeof o.name !== "string" || !NAME_RE.test(o.name) || o.name !== o.name.toLowerCase()) problems.push(`${q}.name: Option name is invalid`);
    if (names.has(o.name)) problems.push(`${q}.name: Option names must be unique`);
    names.add(o.name);
    if (typeof o.description !== "string" || o.description.length < 1 || o.description.length > 100)
      problems.push(`${q}.description: Must be between 1 and 100 in length.`);
    if (o.type === 1 || o.type === 2) return optionProblems(o.options ?? [], `${q}.options`, problems);
    if (o.required) {
      if (seenOptional) problems.push(`${q}.required: Required options must be placed before non-required options`);
    } else seenOptional = true;
    if (o.autocomplete) {
      if (![3, 4, 10].includes(o.type)) problems.push(`${q}.autocomplete: Autocomplete is only for string, integer and number options`);
      if (o.choices?.length) problems.push(`${q}.autocomplete: Autocomplete and choices are mutually exclusive`);
    }
    if (o.max_length != null && (o.max_length < 1 || o.max_length > 6000)) problems.push(`${q}.max_length: out of range`);
  });
}

function wellFormedUrl(u: unknown): boolean {
  if (typeof u !== "string" || u.length > 2048) return false;
  try {
    const url = new URL(u);
    return url.protocol === "http:" || url.protocol === "https:" || url.protocol === "attachment:";
  } catch {
    return false;
  }
}
