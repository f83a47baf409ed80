// A small compiler and validator for the OCSF schema's modular source (the form the schema's own
// repository keeps: events and objects that `extends` a parent, `$include` profile files, and a
// dictionary that gives every attribute its type). The schema server does this compilation in
// Elixir and its validator is a web service; neither is reachable here, so the tests compile the
// source themselves and check Airlock's events against the result.
//
// What is checked: the class exists and its category, `class_uid` and `type_uid` add up; every
// required attribute is there (a profile's attributes count only when the event names the profile
// in `metadata.profiles`); no attribute the class or object does not define; each value has its
// dictionary type (integers, strings, booleans, arrays, objects, port range, type regexes); enum
// attributes hold a defined value and their sibling names its caption; `at_least_one` and
// `just_one` constraints. Deprecated attributes are reported too.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

type Requirement = "required" | "recommended" | "optional";

interface AttributeSpec {
  requirement?: Requirement;
  type?: string;
  is_array?: boolean;
  enum?: Record<string, { caption: string }>;
  sibling?: string;
  profile?: string | null;
  "@deprecated"?: unknown;
}

interface Definition {
  name: string;
  uid?: number;
  extends?: string;
  category?: string;
  attributes: Record<string, AttributeSpec>;
  constraints?: { at_least_one?: string[]; just_one?: string[] };
}

interface TypeSpec {
  type?: string;
  regex?: string;
  range?: [number, number];
  max_len?: number;
  values?: unknown[];
}

export interface CompiledClass {
  name: string;
  uid: number;
  categoryUid: number;
  attributes: Record<string, AttributeSpec>;
  constraints: Definition["constraints"];
}

const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));

/** Later specs override earlier ones field by field; enums add up (a class adds its activities to 0 and 99). */
function merged(...specs: (AttributeSpec | undefined)[]): AttributeSpec {
  const out: AttributeSpec = {};
  for (const spec of specs) {
    if (!spec) continue;
    const enumValues = out.enum || spec.enum ? { ...out.enum, ...spec.enum } : undefined;
    Object.assign(out, spec);
    if (enumValues) out.enum = enumValues;
  }
  return out;
}

/** Derived from the class itself (checked in validate), not from the base event's placeholder enums. */
const DERIVED = new Set(["class_uid", "category_uid", "type_uid"]);

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? jsonFiles(join(dir, entry.name))
      : entry.name.endsWith(".json")
        ? [join(dir, entry.name)]
        : [],
  );
}

export class OcsfSchema {
  readonly version: string;
  private readonly dictionary: Record<string, AttributeSpec>;
  private readonly types: Record<string, TypeSpec>;
  private readonly categories: Record<string, number>;
  private readonly rawEvents = new Map<string, Definition>();
  private readonly rawObjects = new Map<string, Definition>();
  private readonly compiled = new Map<string, Definition>();
  readonly classes = new Map<number, CompiledClass>();

  constructor(private readonly root: string) {
    this.version = readJson(join(root, "version.json")).version;
    const dictionary = readJson(join(root, "dictionary.json"));
    this.dictionary = dictionary.attributes;
    this.types = dictionary.types.attributes;
    const categories = readJson(join(root, "categories.json")).attributes as Record<string, { uid: number }>;
    this.categories = Object.fromEntries(Object.entries(categories).map(([name, c]) => [name, c.uid]));
    for (const file of jsonFiles(join(root, "events"))) {
      const def = readJson(file) as Definition;
      this.rawEvents.set(def.name, def);
    }
    for (const file of jsonFiles(join(root, "objects"))) {
      const def = readJson(file) as Definition;
      this.rawObjects.set(def.name, def);
    }
    for (const def of this.rawEvents.values()) {
      if (def.uid === undefined) continue;
      const resolved = this.resolve("event", def.name);
      const category = this.categoryOf(def.name);
      const categoryUid = this.categories[category];
      if (categoryUid === undefined) throw new Error(`event ${def.name}: unknown category ${category}`);
      const uid = categoryUid * 1000 + def.uid;
      this.classes.set(uid, {
        name: def.name,
        uid,
        categoryUid,
        attributes: resolved.attributes,
        constraints: resolved.constraints,
      });
    }
  }

  private categoryOf(eventName: string): string {
    let def = this.rawEvents.get(eventName);
    while (def) {
      if (def.category) return def.category;
      def = def.extends ? this.rawEvents.get(def.extends) : undefined;
    }
    throw new Error(`event ${eventName} has no category`);
  }

  /** An event or object with its parents' attributes, its includes and profiles merged in. */
  private resolve(kind: "event" | "object", name: string): Definition {
    const key = `${kind}:${name}`;
    const done = this.compiled.get(key);
    if (done) return done;
    const raw = (kind === "event" ? this.rawEvents : this.rawObjects).get(name);
    if (!raw) throw new Error(`OCSF ${kind} ${name} is not in the schema`);
    const parent = raw.extends ? this.resolve(kind, raw.extends) : undefined;
    const attributes: Record<string, AttributeSpec> = {};
    for (const [attr, spec] of Object.entries(parent?.attributes ?? {})) attributes[attr] = { ...spec };
    const own = raw.attributes ?? {};
    for (const include of (own.$include as unknown as string[] | undefined) ?? []) {
      const file = readJson(join(this.root, include)) as Definition & { meta?: string };
      const profile = file.meta === "profile" ? file.name : undefined;
      for (const [attr, spec] of Object.entries(file.attributes ?? {}))
        attributes[attr] = merged(this.dictionary[attr], attributes[attr], {
          ...spec,
          profile: profile ?? spec.profile,
        });
    }
    for (const [attr, spec] of Object.entries(own)) {
      if (attr === "$include") continue;
      attributes[attr] = merged(this.dictionary[attr], attributes[attr], spec);
    }
    const constraints = { ...parent?.constraints, ...raw.constraints };
    const def: Definition = { name, attributes, constraints };
    this.compiled.set(key, def);
    return def;
  }

  /** Every problem with `event` as an instance of its class; empty when it validates. */
  validate(event: Record<string, unknown>): string[] {
    const problems: string[] = [];
    const classUid = event.class_uid;
    const cls = typeof classUid === "number" ? this.classes.get(classUid) : undefined;
    if (!cls) return [`class_uid ${String(classUid)} is not an OCSF ${this.version} class`];
    if (event.category_uid !== cls.categoryUid)
      problems.push(`category_uid ${String(event.category_uid)} should be ${cls.categoryUid}`);
    if (typeof event.activity_id === "number" && event.type_uid !== cls.uid * 100 + event.activity_id)
      problems.push(`type_uid ${String(event.type_uid)} should be ${cls.uid * 100 + event.activity_id}`);
    const metadata = event.metadata as { profiles?: string[]; version?: string } | undefined;
    if (metadata?.version !== this.version)
      problems.push(`metadata.version ${String(metadata?.version)} should be ${this.version}`);
    const profiles = new Set(metadata?.profiles ?? []);
    this.check(cls.name, cls.attributes, cls.constraints, event, profiles, "", problems);
    return problems;
  }

  private check(
    owner: string,
    attributes: Record<string, AttributeSpec>,
    constraints: Definition["constraints"],
    value: Record<string, unknown>,
    profiles: Set<string>,
    path: string,
    problems: string[],
  ): void {
    for (const [attr, spec] of Object.entries(attributes)) {
      const applies = !spec.profile || profiles.has(spec.profile);
      if (spec.requirement === "required" && applies && value[attr] === undefined)
        problems.push(`${path}${attr} is required in ${owner}`);
    }
    for (const [attr, item] of Object.entries(value)) {
      const spec = attributes[attr];
      if (!spec) {
        problems.push(`${path}${attr} is not an attribute of ${owner}`);
        continue;
      }
      if (spec["@deprecated"]) problems.push(`${path}${attr} is deprecated in ${owner}`);
      this.checkValue(
        DERIVED.has(attr) && path === "" ? { ...spec, enum: undefined } : spec,
        item,
        profiles,
        `${path}${attr}`,
        problems,
      );
      if (spec.enum && spec.sibling && typeof item === "number") {
        const caption = spec.enum[String(item)]?.caption;
        const named = value[spec.sibling];
        if (caption !== undefined && item !== 99 && named !== undefined && named !== caption)
          problems.push(
            `${path}${spec.sibling} ${JSON.stringify(named)} should be ${JSON.stringify(caption)}`,
          );
      }
    }
    const present = (attr: string) => value[attr] !== undefined;
    const atLeastOne = constraints?.at_least_one;
    if (atLeastOne && !atLeastOne.some(present))
      problems.push(`${path || owner}: needs at least one of ${atLeastOne.join(", ")}`);
    const justOne = constraints?.just_one;
    if (justOne && justOne.filter(present).length !== 1)
      problems.push(`${path || owner}: needs exactly one of ${justOne.join(", ")}`);
  }

  private checkValue(
    spec: AttributeSpec,
    item: unknown,
    profiles: Set<string>,
    path: string,
    problems: string[],
  ): void {
    if (spec.is_array) {
      if (!Array.isArray(item)) {
        problems.push(`${path} should be an array`);
        return;
      }
      item.forEach((element, i) => {
        this.checkValue({ ...spec, is_array: false }, element, profiles, `${path}[${i}]`, problems);
      });
      return;
    }
    const type = spec.type ?? "string_t";
    if (this.types[type] === undefined) {
      if (type === "object") {
        if (typeof item !== "object" || item === null || Array.isArray(item))
          problems.push(`${path} should be an object`);
        return;
      }
      const object = this.resolve("object", type);
      if (typeof item !== "object" || item === null || Array.isArray(item)) {
        problems.push(`${path} should be a ${type} object`);
        return;
      }
      this.check(
        type,
        object.attributes,
        object.constraints,
        item as Record<string, unknown>,
        profiles,
        `${path}.`,
        problems,
      );
      return;
    }
    this.checkScalar(type, item, path, problems);
    if (spec.enum && !(String(item) in spec.enum))
      problems.push(`${path} ${JSON.stringify(item)} is not one of ${Object.keys(spec.enum).join(", ")}`);
  }

  private checkScalar(type: string, item: unknown, path: string, problems: string[]): void {
    const spec = this.types[type] ?? {};
    const base = spec.type ?? type;
    if (base === "string_t" && typeof item !== "string")
      problems.push(`${path} should be a string (${type})`);
    if ((base === "integer_t" || base === "long_t") && !Number.isInteger(item))
      problems.push(`${path} should be an integer (${type})`);
    if (base === "float_t" && typeof item !== "number") problems.push(`${path} should be a number`);
    if (base === "boolean_t" && typeof item !== "boolean") problems.push(`${path} should be a boolean`);
    if (spec.regex && typeof item === "string" && !new RegExp(spec.regex).test(item))
      problems.push(`${path} ${JSON.stringify(item)} is not a valid ${type}`);
    if (spec.max_len && typeof item === "string" && item.length > spec.max_len)
      problems.push(`${path} is longer than ${spec.max_len} (${type})`);
    if (spec.range && typeof item === "number" && (item < spec.range[0] || item > spec.range[1]))
      problems.push(`${path} ${item} is outside ${spec.range.join("..")} (${type})`);
  }

  /** For messages: where the schema was read from, relative to `from`. */
  where(from: string): string {
    return relative(from, this.root);
  }
}
