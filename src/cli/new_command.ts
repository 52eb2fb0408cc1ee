/**
 * `deno task new module <name> --field name:text --field address:text? [--unique name] …` writes
 * `modules/<name>.ts`, its seeder (`seeders/<name>.ts`) and a test (`tests/modules/<name>_test.ts`), registers
 * the module in `modules/mod.ts` and its seeder in `seeders/mod.ts`, and prints the next two commands (as the
 * user can run them: `deno_command.ts`). The seeder writes demo rows for every demo organization, a required
 * reference pointing at a record of the referenced table there (it runs after the seeders that write them),
 * and the test fails when it wrote none. No unique key unless `--unique` asks for one. `deno task new seeder <Name>` writes a seeder that writes nothing
 * until filled in (examples of `getOrCreate` / `upsert` in comments) and lists it in `seeders/mod.ts`. What it
 * writes is formatted with `deno fmt`. Never overwrites a file. Story: docs/modules.md.
 *
 * Field types: text, integer, money (cents), boolean, timestamp, enum:a,b,c, json, ref:<table>, user;
 * a trailing `?` makes the field optional (nullable). A `ref:` names a module table of the registry or the
 * module's own (then optional): anything else is refused before a file is written (no migration could create
 * the table). Singular names (`dishes` → `dish`) come from the npm `pluralize` library.
 */
// @ts-types="@types/pluralize"
import pluralize from "pluralize";
import { UsageError } from "./context.ts";
import { deno } from "../deno_command.ts";
import { REGISTRY_RESOURCES } from "../modules/registry.ts";
import { SEEDERS } from "../../seeders/mod.ts";
import type { SeederDefinition } from "../seeding/types.ts";

/** Whether `--scale` fills `table` (so a volume row can reference one of its rows). */
const filledByScale = (table: string) => REGISTRY_RESOURCES.some((r) => r.table === table && r.volume);

export const NEW_USAGE =
  `new module <name> [--field name:type[?]]… [--unique f1[,f2]]… [--tiers t1,t2] [--owner column]
                                            a module: table, routes, permissions, seeder, test
  types: text integer money boolean timestamp enum:a,b,c json ref:<table> user   (? = optional)
  unique: fields no two records of an organization may share (none unless asked; one with a text field)
  tiers: free starter professional enterprise (default starter,professional,enterprise)
  owner: the record-scope column, a user of the organization (default owner_id; e.g. assignee_id)
new seeder <Name>                       a seeder to fill in (it writes nothing until you do; examples inside)`;

export interface FieldArg {
  /** camelCase property. */
  prop: string;
  /** snake_case column / JSON key. */
  column: string;
  type: "text" | "integer" | "money" | "boolean" | "timestamp" | "enum" | "json" | "ref" | "user";
  optional: boolean;
  values?: string[];
  references?: string;
}

export interface ModuleSpec {
  name: string;
  fields: FieldArg[];
  tiers: string[];
  /** The record-scope column (`--owner`), when not `owner_id`. */
  owner?: { prop: string; column: string };
  /** Unique keys within the organization (`--unique a,b`), as field props; none unless asked. */
  unique?: string[][];
}

const TYPES = ["text", "integer", "money", "boolean", "timestamp", "enum", "json", "ref", "user"] as const;
const TIERS = ["free", "starter", "professional", "enterprise"];
const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const snake = (s: string) => s.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
const cap = (s: string) => s[0].toUpperCase() + s.slice(1);
/**
 * The singular of a module name, by the npm `pluralize` library (not hand-written rules): `dishes` → `dish`,
 * `categories` → `category`, `statuses` → `status`, `people` → `person`. A name that reads singular already
 * (`booking`, `status`, `staff`) comes back as it is, and so does one the library would turn into no valid
 * name (`s`). A table name's last word is made singular (`crm_leads` → `crm_lead`).
 */
export const singular = (s: string): string => {
  const one = pluralize.singular(s);
  return /^[a-z][a-z0-9_]*$/.test(one) && !one.endsWith("_") ? one : s;
};

/** Parses `name:type[?]` (e.g. `address:text?`, `status:enum:open,closed`, `restaurant_id:ref:restaurants`). */
export function parseField(raw: string): FieldArg {
  const optional = raw.endsWith("?");
  const [name, type, arg] = (optional ? raw.slice(0, -1) : raw).split(":");
  if (!name || !/^[a-z][a-z0-9_]*$/.test(name)) {
    throw new UsageError(`--field ${raw}: the name must be lower-case snake_case (e.g. opening_hours)`);
  }
  if (["id", "organization_id", "owner_id", "created_at", "updated_at"].includes(snake(camel(name)))) {
    throw new UsageError(`--field ${raw}: ${name} is a column every module table already has`);
  }
  if (!(TYPES as readonly string[]).includes(type)) {
    throw new UsageError(`--field ${raw}: type must be one of ${TYPES.join(", ")}`);
  }
  const f: FieldArg = {
    prop: camel(name),
    column: snake(camel(name)),
    type: type as FieldArg["type"],
    optional,
  };
  if (type === "enum") {
    f.values = (arg ?? "").split(",").filter(Boolean);
    if (!f.values.length || f.values.some((v) => !/^[a-z0-9_]+$/.test(v))) {
      throw new UsageError(`--field ${raw}: an enum lists its values, e.g. status:enum:open,closed`);
    }
  } else if (type === "ref") {
    if (!arg || !/^[a-z][a-z0-9_]*$/.test(arg)) {
      throw new UsageError(
        `--field ${raw}: a ref names the table it references, e.g. restaurant_id:ref:restaurants`,
      );
    }
    f.references = arg;
  } else if (arg !== undefined) throw new UsageError(`--field ${raw}: type ${type} takes no argument`);
  return f;
}

/** Parses `new module …` arguments. */
export function parseModuleArgs(args: string[]): ModuleSpec {
  const [name, ...rest] = args;
  if (!name || !/^[a-z][a-z0-9]*$/.test(name)) {
    throw new UsageError(
      `new module: the name is one lower-case word (letters and digits), e.g. "bookings" — it is the permission prefix (bookings.read)`,
    );
  }
  const fields: FieldArg[] = [];
  let tiers = ["starter", "professional", "enterprise"];
  let owner: ModuleSpec["owner"];
  const uniqueArgs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const [flag, inline] = rest[i].split(/=(.*)/s);
    const value = inline ?? rest[++i];
    if (value === undefined) throw new UsageError(`${flag}: a value is required`);
    if (flag === "--field") fields.push(parseField(value));
    else if (flag === "--tiers") {
      tiers = value.split(",").filter(Boolean);
      const bad = tiers.find((t) => !TIERS.includes(t));
      if (bad || !tiers.length) throw new UsageError(`--tiers: use ${TIERS.join(", ")} (comma-separated)`);
    } else if (flag === "--owner") {
      if (
        !/^[a-z][a-z0-9_]*$/.test(value) ||
        ["id", "organization_id", "created_at", "updated_at"].includes(value)
      ) {
        throw new UsageError(
          `--owner ${value}: a snake_case column name for the record's owner, e.g. assignee_id`,
        );
      }
      owner = value === "owner_id" ? undefined : { prop: camel(value), column: snake(camel(value)) };
    } else if (flag === "--unique") uniqueArgs.push(value);
    else throw new UsageError(`new module: unknown option ${flag}\n${NEW_USAGE}`);
  }
  if (!fields.length) {
    throw new UsageError(`new module ${name}: give at least one --field, e.g. --field name:text`);
  }
  const dup = fields.find((f, i) => fields.findIndex((g) => g.prop === f.prop) !== i);
  if (dup) throw new UsageError(`--field ${dup.column} is given twice`);
  const clash = owner && fields.find((f) => f.column === owner.column);
  if (clash) {
    throw new UsageError(`--field ${clash.column}: it is the owner column (--owner) already; drop the field`);
  }
  const unique = uniqueArgs.map((arg) => {
    const columns = arg.split(",").filter(Boolean);
    const props = columns.map((c) => {
      const f = fields.find((g) => g.column === snake(camel(c)));
      if (!f) {
        throw new UsageError(
          `--unique ${arg}: ${c} is not one of the fields (${fields.map((g) => g.column).join(", ")})`,
        );
      }
      return f.prop;
    });
    if (!props.length || new Set(props).size !== props.length) {
      throw new UsageError(`--unique ${arg}: name each field once, comma-separated (e.g. --unique code)`);
    }
    if (!columns.some((c) => fields.find((f) => f.column === snake(camel(c)))!.type === "text")) {
      throw new UsageError(
        `--unique ${arg}: include a text field (the demo and --scale rows are told apart by it)`,
      );
    }
    return props;
  });
  const spec: ModuleSpec = { name, fields, tiers };
  if (owner) spec.owner = owner;
  if (unique.length) spec.unique = unique;
  return spec;
}

/** `guest_name` → `Guest name`: readable demo and volume values (`Guest name 1`). */
const label = (f: FieldArg) => cap(f.column.replace(/_/g, " "));

/** The text field that tells a module's demo rows apart: the first unique key's, else the first required one. */
function keyField(s: ModuleSpec): FieldArg | undefined {
  const text = (f: FieldArg | undefined) => f?.type === "text" ? f : undefined;
  for (const u of s.unique ?? []) {
    const f = u.map((p) => text(s.fields.find((g) => g.prop === p))).find(Boolean);
    if (f) return f;
  }
  return s.fields.find((f) => f.type === "text" && !f.optional);
}

function builder(f: FieldArg): string {
  const base = {
    text: "text().max(1000)",
    integer: "integer()",
    money: "money()",
    boolean: "boolean()",
    timestamp: "timestamp()",
    enum: `enumOf([${f.values?.map((v) => JSON.stringify(v)).join(", ")}])`,
    json: "json()",
    // A required reference cannot be nulled when its record goes: the delete is refused while it exists.
    // Indexed: a delete of the referenced record looks its referencing rows up by this column.
    ref: `ref(${JSON.stringify(f.references)}${f.optional ? "" : ', "restrict"'}).index()`,
    user: f.optional ? "user()" : `user("restrict")`,
  }[f.type];
  if (f.optional) return base;
  if (f.type === "enum") return `${base}.notNull().default(${JSON.stringify(f.values![0])})`;
  if (f.type === "boolean") return `${base}.notNull().default(false)`;
  if (f.type === "json") return `${base}.notNull().default({})`;
  return `${base}.notNull()`;
}

/** A sample value of a field as TypeScript source (`i` is in scope), for the volume factory and the seeder. */
function sample(f: FieldArg, ctx: "volume" | "seed", key = false): string {
  const n = ctx === "volume" ? "i" : "n";
  switch (f.type) {
    case "text":
      // A volume row's unique key carries VOL- and its number, so a re-run of --scale adds none and it never
      // meets a demo row's (`Guest name VOL-000042` beside `Guest name 1`).
      return key && ctx === "volume" ? `\`${label(f)} VOL-\${serial(i)}\`` : `\`${label(f)} \${${n}}\``;
    case "integer":
      return ctx === "volume" ? "r.int(1, 1000)" : n;
    case "money":
      return ctx === "volume" ? "r.int(100, 1_000_000)" : `${n} * 1000`;
    case "boolean":
      return ctx === "volume" ? "r.int(0, 1) === 1" : "true";
    case "timestamp":
      return `new Date(Date.UTC(2025, 0, ${ctx === "volume" ? "r.int(1, 365)" : n}))`;
    case "enum":
      return ctx === "volume"
        ? `r.pick([${f.values!.map((v) => JSON.stringify(v)).join(", ")}])`
        : JSON.stringify(f.values![0]);
    case "json":
      return `{ n: ${n} }`;
    case "ref": {
      const refs = `refs(${JSON.stringify(f.references)})`;
      if (ctx === "seed") return "null";
      return f.optional ? `${refs}.length ? r.pick(${refs}) : null` : `r.pick(${refs})`;
    }
    case "user":
      return ctx === "volume" ? "ownerId" : "ownerId";
  }
}

/** The volume factory's parameters its rows use. */
function volumeArgs(body: string): string {
  const used = ["r", "ownerId", "refs"].filter((n) => new RegExp(`\\b${n}\\b`).test(body));
  return used.length ? `i, { ${used.join(", ")} }` : "i";
}

/**
 * The `--scale` row factory, or why there is none: its rows are found again by a unique key (a re-run adds
 * none), and draw references from tables `--scale` fills first (registry order); a required reference to a
 * table it does not fill makes a generated row impossible.
 */
function volumeOf(s: ModuleSpec): { code: string; note?: string } {
  // Without a unique key, a text field carries the rows' VOL- mark (volumeKey): a re-run finds them by it.
  const mark = s.unique?.length ? undefined : keyField(s) ?? s.fields.find((f) => f.type === "text");
  if (!s.unique?.length && !mark) {
    return {
      code: "",
      note:
        "no `volume` (--scale rows): a re-run finds its rows by a unique key (--unique) or a text field carrying VOL-<serial(i)> (volumeKey), and it has neither (docs/modules.md)",
    };
  }
  const unfilled = s.fields.find((f) => f.type === "ref" && !f.optional && !filledByScale(f.references!));
  if (unfilled) {
    return {
      code: "",
      note:
        `no \`volume\` (--scale rows): ${unfilled.column} must reference ${unfilled.references}, which --scale does not fill`,
    };
  }
  const keys = new Set(mark ? [mark.prop] : s.unique!.flat());
  const rows = s.fields.filter((f) => f.type !== "ref" || filledByScale(f.references!)).map((f) =>
    `        ${f.prop}: ${sample(f, "volume", keys.has(f.prop))},`
  );
  const volumeKey = mark
    ? `
      // No unique key: --scale finds the rows of an earlier run by ${mark.column} (it carries VOL-<serial(i)>).
      volumeKey: ${JSON.stringify(mark.prop)},`
    : "";
  return {
    code: `
      volume: (${volumeArgs(rows.join("\n"))}) => ({
${rows.join("\n")}
      }),${volumeKey}`,
  };
}

/** The module file. */
export function renderModule(s: ModuleSpec): string {
  const one = singular(s.name);
  const volume = volumeOf(s);
  const imports = new Set(["defineModule"]);
  if (volume.code.includes("serial(")) imports.add("serial");
  for (const f of s.fields) imports.add(builder(f).split("(")[0]);
  const unique = (s.unique ?? []).map((u) => `{ columns: [${u.map((p) => JSON.stringify(p)).join(", ")}] }`);
  return `/**
 * ${cap(s.name)}: generated by \`deno task new module ${s.name}\`. Edit freely: fields, licensing, actions
 * (its seeder is seeders/${s.name}.ts). After a change of fields: \`deno task db:generate --name <change>\`,
 * then \`deno task migrate\` (docs/modules.md).
 */
import { ${[...imports].sort().join(", ")} } from "../src/modules/define.ts";

export default defineModule({
  key: ${JSON.stringify(s.name)},
  description: ${JSON.stringify(cap(s.name))},
  licensing: { tiers: [${s.tiers.map((t) => JSON.stringify(t)).join(", ")}] },
  resources: {
    ${s.name}: {
      table: ${JSON.stringify(s.name)},
      type: ${JSON.stringify(one === s.name ? `${s.name}_record` : one)},
      path: ${JSON.stringify(`/api/v1/${s.name}`)},
      noun: ${JSON.stringify(one)},
      schemaName: ${JSON.stringify(cap(one === s.name ? `${s.name}Record` : one))},
      fields: {
${s.fields.map((f) => `        ${f.prop}: ${builder(f)},`).join("\n")}
      },${
    s.owner
      ? `\n      owner: ${JSON.stringify(s.owner.prop)}, // the record-scope column: ${s.owner.column}`
      : ""
  }${
    unique.length
      ? `\n      // No two records of an organization share these (--unique): a second one is a 409.\n      unique: [${
        unique.join(", ")
      }],`
      : ""
  }${volume.code}${volume.note ? `\n      // ${volume.note}.` : ""}
    },
  },
});
`;
}

/**
 * The seeders that write the demo records of `table`: DemoModuleDataSeeder for a resource that declares `demo`
 * rows, and every seeder of `seeders` naming the table's module (`module: "menus"` → MenusSeeder). None for a
 * table that is no registry table (the module's own).
 */
export function seedersOf(table: string, seeders: readonly SeederDefinition[] = SEEDERS): string[] {
  const res = REGISTRY_RESOURCES.find((r) => r.table === table);
  if (!res) return [];
  return [
    ...(res.demo ? ["DemoModuleDataSeeder"] : []),
    ...seeders.filter((d) => d.module === res.module).map((d) => d.name),
  ];
}

/** The schema property of a module table (`ctx.t.<key>`): its resource key, or the new module's own. */
const tableKey = (s: ModuleSpec, table: string) =>
  table === s.name ? camel(s.name) : REGISTRY_RESOURCES.find((r) => r.table === table)?.key ?? camel(table);

/**
 * The module's seeder: two demo rows per demo organization, found or created by their key, owned by the
 * organization's admin (so is every `user` field). A required reference takes the id of one of the first two
 * records of the referenced table in the same organization — the seeder depends on the seeders that write
 * them (`seedersOf`), so the master order runs it after them; where the organization has none, it writes no
 * row there and logs a warning that says so. An optional reference is left empty.
 */
export function renderModuleSeeder(s: ModuleSpec, seeders: readonly SeederDefinition[] = SEEDERS): string {
  const Name = `${cap(s.name)}Seeder`;
  const key = keyField(s);
  const refs = s.fields.filter((f) => f.type === "ref" && !f.optional);
  const tables = [...new Set(refs.map((f) => f.references!))];
  const used = new Set(["n", "t", "tx", "ctx", "organizationId", "ownerId"]);
  const idsOf = new Map<string, string>();
  for (const table of tables) {
    let v = `${camel(singular(table))}Ids`;
    for (let i = 2; used.has(v); i++) v = `${camel(singular(table))}Ids${i}`;
    used.add(v);
    idsOf.set(table, v);
  }
  const after = [...new Set(tables.flatMap((table) => seedersOf(table, seeders)))];
  const unwritten = tables.filter((table) => table !== s.name && !seedersOf(table, seeders).length);
  const values = s.fields.filter((f) => f.prop !== key?.prop && (f.type !== "ref" || !f.optional)).map((f) =>
    f.type === "ref"
      ? `          ${f.prop}: ${idsOf.get(f.references!)}[(n - 1) % ${idsOf.get(f.references!)}.length],`
      : `          ${f.prop}: ${sample(f, "seed")},`
  );
  const t = refs.length ? "t" : "ctx.t";
  const refText = refs.length
    ? `\n *\n * Each row references one of the organization's first records of\n${
      tables.map((table) => {
        const by = seedersOf(table, seeders);
        return ` *   ${table} (${
          refs.filter((f) => f.references === table).map((f) => f.column).join(", ")
        })${by.length ? `, written by ${by.join(" and ")}` : ""}\n`;
      }).join("")
    } * (it runs after those); an organization without any gets no row, and a warning says so.`
    : "";
  const lookups = tables.map((table) => {
    const tt = `t.${tableKey(s, table)}`;
    const v = idsOf.get(table)!;
    const columns = refs.filter((f) => f.references === table).map((f) => f.column).join(", ");
    return `      const ${v} = (await tx.select({ id: ${tt}.id }).from(${tt})
        .where(eq(${tt}.organizationId, organizationId)).orderBy(asc(${tt}.id)).limit(2))
        .map((r) => r.id);
      if (!${v}.length) {
        ctx.logger.warn("demo_rows_skipped", {
          seeder: ${JSON.stringify(Name)},
          organization_id: organizationId,
          reason: ${JSON.stringify(`no ${table} in this organization for ${columns} to reference`)},
        });
        continue;
      }
`;
  }).join("");
  return `/**
 * ${Name}: demo ${s.name} for each demo organization, owned by its admin, found or created by
 * ${
    key ? key.column : "organization"
  } (seed 002's get_or_create). Generated by \`deno task new module\`; listed in
 * \`seeders/mod.ts\`.${refText}
 */
${
    refs.length
      ? 'import { asc, eq } from "drizzle-orm";\n'
      : ""
  }import { defineSeeder, DEMO_ENVS } from "../src/seeding/types.ts";
import { demoAdmins } from "./demo_owners.ts";

export const ${s.name}Seeder = defineSeeder({
  name: ${JSON.stringify(Name)},
  module: ${JSON.stringify(s.name)},
  description: ${JSON.stringify(`Demo ${s.name} per demo organization (get_or_create)`)},
  dependsOn: [${["DemoUsersSeeder", ...after].map((d) => JSON.stringify(d)).join(", ")}],${
    unwritten.length
      ? `\n  // No seeder writes demo records of ${
        unwritten.join(", ")
      }: write one (deno task new seeder), or these rows appear\n  // only where such records exist.`
      : ""
  }
  environments: DEMO_ENVS,
  demo: true,
  async seed(ctx) {${refs.length ? "\n    const { t, tx } = ctx;" : ""}
    for (const [organizationId, ownerId] of await demoAdmins(ctx)) {
${lookups}      for (let n = 1; n <= 2; n++) {
        await ctx.getOrCreate(${t}.${camel(s.name)}, { organizationId${
    key ? `, ${key.prop}: ${sample(key, "seed")}` : ""
  } }, {
${values.join("\n")}
          ${s.owner ? `${s.owner.prop}: ownerId` : "ownerId"},
        });
      }
    }
    return ctx.stats;
  },
});
`;
}

/**
 * The module's test: the seeder wrote rows for every demo organization (so a seeder that writes none fails
 * it), they are listed for a demo admin behind the guard, and reads stay within the record scope.
 */
export function renderModuleTest(s: ModuleSpec): string {
  const owner = s.owner ?? { prop: "ownerId", column: "owner_id" };
  const table = `db.t.${camel(s.name)}`;
  return `/** ${
    cap(s.name)
  } (generated by \`deno task new module\`): seeded, served at /api/v1/${s.name} behind the guard. */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, login } from "../helpers/fixtures.ts";
import { service } from "../seeding/helpers.ts";
import { DEMO_ORGS, DEMO_PASSWORD } from "../../seeders/demo_data.ts";
import { RecordsRepository } from "../../src/modules/records_repository.ts";

dbTest("${s.name}: seeded for the demo organizations and listed for their admin; anonymous callers get 401", async (db) => {
  await service(db).execute({ triggeredBy: "t", createBackup: false });
  for (const { slug } of DEMO_ORGS) {
    const [org] = await db.db.select({ id: db.t.organizations.id }).from(db.t.organizations)
      .where(eq(db.t.organizations.slug, slug));
    assert.ok(org, \`demo organization \${slug}\`);
    const rows = await db.db.select({ id: ${table}.id }).from(${table})
      .where(eq(${table}.organizationId, org.id));
    assert.ok(rows.length > 0, \`the seeder wrote ${s.name} for \${slug}\`);
  }
  const { app } = await testApp(db);
  const token = await login(app, "admin@globex.com", DEMO_PASSWORD);
  const res = await app.request("/api/v1/${s.name}", { headers: bearer(token) });
  assert.equal(res.status, 200);
  const page = await json<{ items: unknown[]; total: number }>(res);
  assert.ok(page.total > 0, "the admin lists the seeded records");
  assert.equal(page.items.length, page.total);
  assert.equal((await app.request("/api/v1/${s.name}")).status, 401);
  const doc = await json<{ paths: Record<string, unknown> }>(await app.request("/openapi.json"));
  assert.ok(doc.paths["/api/v1/${s.name}"]);
});

dbTest("${s.name}: record scope — an own-scope reader sees only the records he owns (${owner.column})", async (db) => {
  await service(db).execute({ triggeredBy: "t", createBackup: false });
  const { app } = await testApp(db);
  const token = await login(app, "admin@globex.com", DEMO_PASSWORD);
  const { items } = await json<{ items: Record<string, number>[] }>(
    await app.request("/api/v1/${s.name}", { headers: bearer(token) }),
  );
  assert.ok(items.length > 0, "the seeder wrote records");
  const { organization_id: organizationId, ${owner.column}: owner } = items[0];
  assert.equal(typeof owner, "number", "every record has its owner (${owner.column})");
  const repo = new RecordsRepository(db, ${JSON.stringify(s.name)});
  const page = { skip: 0, limit: 100 };
  const own = await repo.list({ organizationId, scope: "own", userId: owner }, page);
  assert.ok(own.items.length > 0 && own.items.every((r) => r.${owner.prop} === owner));
  const stranger = await repo.list({ organizationId, scope: "own", userId: owner + 1_000_000 }, page);
  assert.equal(stranger.items.length, 0, "nobody else's records in an own scope");
});
`;
}

/**
 * A standalone seeder (`new seeder <Name>`): it writes nothing until the user fills it in — `deno task dev`
 * restarts on the new file and runs every seeder, so a placeholder row would land in the real database.
 */
export function renderSeeder(name: string): string {
  const base = name.replace(/Seeder$/, "");
  return `/**
 * ${name}: generated by \`deno task new seeder ${name}\`;
 * listed in seeders/mod.ts. It writes nothing until you fill in \`seed\` below.
 *
 * Seed 002's pattern: find or create each row by its key (\`ctx.getOrCreate\`), or make an existing row
 * match (\`ctx.upsert\`); both count into the run's results, and a re-run creates nothing. Run it:
 * \`deno task seed --only ${name}\` (docs/seeding.md, docs/modules.md).
 */
import { defineSeeder, DEMO_ENVS } from "../src/seeding/types.ts";

export const ${base[0].toLowerCase()}${base.slice(1)}Seeder = defineSeeder({
  name: ${JSON.stringify(name)},
  description: ${JSON.stringify(`${base} data`)},
  dependsOn: ["PermissionsSeeder"],
  // Development and test only; ALL_ENVS (../src/seeding/types.ts) for rows production needs too.
  environments: DEMO_ENVS,
  seed(ctx) {
    // TODO: your rows (make seed \`async\` once it awaits). For example:
    //
    // get_or_create — the row with this key, or a new one with these values:
    //   await ctx.getOrCreate(ctx.t.smsTemplates, { name: "welcome" }, {
    //     body: "Welcome to {app}!",
    //     variables: ["app"],
    //   });
    //
    // upsert — make the row carry these values (updates only what differs):
    //   await ctx.upsert(ctx.t.smsTemplates, { name: "goodbye" }, { body: "See you soon.", variables: [] });
    //
    // A module's record for each demo organization, owned by its admin (then also: dependsOn
    // ["DemoUsersSeeder"], \`demo: true\`, \`module: "restaurants"\`, and
    // \`import { demoAdmins } from "./demo_owners.ts";\`):
    //   for (const [organizationId, ownerId] of await demoAdmins(ctx)) {
    //     await ctx.getOrCreate(ctx.t.restaurants, { organizationId, name: "Burger Barn" }, { ownerId });
    //   }
    return Promise.resolve(ctx.stats);
  },
});
`;
}

/**
 * `seeders/mod.ts` with `variable` imported from `./<file>.ts` and listed before the volume seeder (which
 * fills every module table, so it runs last), or at the end of the list.
 */
export function listSeeder(mod: string, variable: string, file: string): string {
  if (!/\nexport const SEEDERS[^=]*= \[/.test(mod)) {
    throw new Error("seeders/mod.ts: no `export const SEEDERS = [` to add the seeder to");
  }
  const withImport = mod.replace(
    /(\nexport const SEEDERS)/,
    `import { ${variable} } from "./${file}.ts";\n$1`,
  );
  return withImport.includes("\n  volumeSeeder,\n")
    ? withImport.replace("\n  volumeSeeder,\n", `\n  ${variable},\n  volumeSeeder,\n`)
    : withImport.replace(/(\nexport const SEEDERS[\s\S]*?)\n\];/, `$1\n  ${variable},\n];`);
}

/**
 * Formats what the generator wrote with the repository's own `deno fmt` settings, so that `deno fmt --check`
 * (CI, `deno task ok`) passes right after `new`. A formatter that cannot run is reported, not fatal.
 */
async function format(root: string, files: string[], out: (line: string) => void): Promise<void> {
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", ...files],
      cwd: root,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!r.success) throw new Error(new TextDecoder().decode(r.stderr).trim());
  } catch (e) {
    out(`note: deno fmt did not run (${e instanceof Error ? e.message : e}); run \`deno fmt\` yourself`);
  }
}

async function writeNew(path: string, text: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text, { createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(`${path} already exists: not overwritten`);
    }
    throw e;
  }
}

/**
 * Refuses a `ref:` to a table that is neither a registry table (`tables`, the module tables of
 * `modules/mod.ts`) nor the table of the module being created: drizzle-kit could not build it, so no
 * migration would create the module's table. A reference to the module's own table must be optional (a tree's
 * `parent_id`): a required one could never be satisfied by the first record.
 */
export function checkReferences(spec: ModuleSpec, tables: readonly string[]): void {
  for (const f of spec.fields) {
    if (f.type === "ref" && f.references === spec.name && !f.optional) {
      throw new UsageError(
        `--field ${f.column}:ref:${f.references}: a required reference to the module's own table leaves no first ` +
          `record to point at (nothing could be created); make it optional: --field ${f.column}:ref:${f.references}?`,
      );
    }
    if (f.type !== "ref" || f.references === spec.name || tables.includes(f.references!)) continue;
    const what = `--field ${f.column}:ref:${f.references}: no module table is named ${f.references}`;
    if (f.references === "users") {
      throw new UsageError(`${what}; a user of the organization is a user field: --field ${f.column}:user`);
    }
    throw new UsageError(
      `${what}. Known tables: ${tables.join(", ")} (and ${spec.name} itself). ` +
        `Create the module of ${f.references} first, then this one.`,
    );
  }
}

/** Runs `new …` in `root` (the repository); returns the exit code. */
export async function runNew(args: string[], root: string, out: (line: string) => void = console.log) {
  const [what, ...rest] = args;
  if (what === "module") {
    const spec = parseModuleArgs(rest);
    checkReferences(spec, REGISTRY_RESOURCES.map((r) => r.table));
    const registry = `${root}/modules/mod.ts`;
    const mod = await Deno.readTextFile(registry);
    if (new RegExp(`from "\\./${spec.name}\\.ts"`).test(mod)) {
      throw new UsageError(`module ${spec.name} is already registered in modules/mod.ts`);
    }
    await writeNew(`${root}/modules/${spec.name}.ts`, renderModule(spec));
    await writeNew(`${root}/seeders/${spec.name}.ts`, renderModuleSeeder(spec));
    await writeNew(`${root}/tests/modules/${spec.name}_test.ts`, renderModuleTest(spec));
    const withImport = mod.replace(
      /(export const MODULES = \[)/,
      `import ${spec.name} from "./${spec.name}.ts";\n\n$1`,
    ).replace(/\n\] as const;/, `\n  ${spec.name},\n] as const;`).replace(/\n\n\nimport/, "\nimport");
    await Deno.writeTextFile(registry, withImport.replace(/;\n\nimport (\w+) from/, ";\nimport $1 from"));
    const seeders = `${root}/seeders/mod.ts`;
    await Deno.writeTextFile(
      seeders,
      listSeeder(await Deno.readTextFile(seeders), `${spec.name}Seeder`, spec.name),
    );
    await format(root, [
      `modules/${spec.name}.ts`,
      `seeders/${spec.name}.ts`,
      `tests/modules/${spec.name}_test.ts`,
      "modules/mod.ts",
      "seeders/mod.ts",
    ], out);
    out(`wrote modules/${spec.name}.ts, seeders/${spec.name}.ts, tests/modules/${spec.name}_test.ts`);
    out(`registered ${spec.name} in modules/mod.ts and ${cap(spec.name)}Seeder in seeders/mod.ts`);
    out(
      `next:\n  ${
        deno(`task db:generate --name add_${spec.name}`)
      }   # up and down migrations for libSQL and Postgres\n` +
        `  ${deno("task migrate")}   # DATABASE_URL's database; or (re)start ${
          deno("task dev")
        }: it migrates and seeds`,
    );
    return 0;
  }
  if (what === "seeder") {
    const [name] = rest;
    if (!name || !/^[A-Z][A-Za-z0-9]*Seeder$/.test(name)) {
      throw new UsageError(`new seeder: a PascalCase name ending in Seeder, e.g. RestaurantsSeeder`);
    }
    const file = snake(name.replace(/Seeder$/, "")).replace(/^_/, "");
    const variable = `${name[0].toLowerCase()}${name.slice(1, -"Seeder".length)}Seeder`;
    await writeNew(`${root}/seeders/${file}.ts`, renderSeeder(name));
    const registry = `${root}/seeders/mod.ts`;
    await Deno.writeTextFile(registry, listSeeder(await Deno.readTextFile(registry), variable, file));
    await format(root, [`seeders/${file}.ts`, "seeders/mod.ts"], out);
    out(
      `wrote seeders/${file}.ts and listed ${name} in seeders/mod.ts; it writes nothing until you fill it in, then: ${
        deno(`task seed --only ${name}`)
      }`,
    );
    return 0;
  }
  throw new UsageError(`new: say what to create\n${NEW_USAGE}`);
}
