// The API reference page's reading of the server's OpenAPI document
// (/api/openapi.json): operations grouped by tag and filtered, and each
// request body's schema flattened into the fields a reader needs.

export interface Grant { role: string; reach: string }

export interface Field { name: string; type: string; required: boolean; in?: string }

export interface Operation {
  method: string;
  path: string;
  id: string;
  tag: string;
  roles: Grant[];
  tokenScope: string | null;
  public: boolean;
  params: Field[];
  body: { contentType: string; fields: Field[] } | null;
  responses: string[];
}

type Json = Record<string, unknown>;
const METHODS = ["get", "post", "put", "delete", "patch"];

/** The schema a `$ref` points to (`#/components/schemas/X`), or the schema itself. */
function resolve(doc: Json, schema: Json | undefined): Json {
  const ref = schema?.$ref;
  if (typeof ref !== "string") return schema ?? {};
  const name = ref.split("/").pop() ?? "";
  const schemas = ((doc.components as Json | undefined)?.schemas ?? {}) as Record<string, Json>;
  return schemas[name] ?? {};
}

/** A schema's type as people read it: `string`, `integer[]`, `FormDef`, `a | b`. */
export function typeOf(doc: Json, schema: Json | undefined): string {
  if (!schema) return "any";
  if (typeof schema.$ref === "string") return schema.$ref.split("/").pop() ?? "any";
  if (Array.isArray(schema.enum)) return schema.enum.map(String).join(" | ");
  for (const key of ["oneOf", "anyOf"]) {
    const list = schema[key];
    if (Array.isArray(list)) {
      const kinds = list.map((s) => typeOf(doc, s as Json)).filter((k) => k !== "null");
      return [...new Set(kinds)].join(" | ") || "any";
    }
  }
  const type = Array.isArray(schema.type) ? schema.type.filter((t) => t !== "null").join(" | ") : schema.type;
  if (type === "array") return `${typeOf(doc, schema.items as Json)}[]`;
  return typeof type === "string" && type ? type : "any";
}

/** The top-level fields of a body schema (a `$ref` followed once). */
export function fieldsOf(doc: Json, schema: Json | undefined): Field[] {
  const s = resolve(doc, schema);
  const props = (s.properties ?? {}) as Record<string, Json>;
  const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
  return Object.entries(props).map(([name, p]) => ({ name, type: typeOf(doc, p), required: required.has(name) }));
}

/** Every operation of the document, in path order. */
export function operationsOf(doc: Json): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Json>)) {
    for (const method of METHODS) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const params = ((op.parameters ?? []) as Json[]).map((p) => ({
        name: String(p.name),
        in: String(p.in),
        type: typeOf(doc, p.schema as Json),
        required: p.required === true,
      }));
      const content = ((op.requestBody as Json | undefined)?.content ?? {}) as Record<string, Json>;
      const [contentType, media] = Object.entries(content)[0] ?? [];
      const body = contentType ? { contentType, fields: fieldsOf(doc, media?.schema as Json) } : null;
      out.push({
        method: method.toUpperCase(),
        path,
        id: String(op.operationId ?? ""),
        tag: String((op.tags as string[] | undefined)?.[0] ?? ""),
        roles: (op["x-callpop-roles"] ?? []) as Grant[],
        tokenScope: (op["x-callpop-token-scope"] as string | undefined) ?? null,
        public: !Array.isArray(op.security),
        params,
        body,
        responses: Object.keys((op.responses ?? {}) as Json),
      });
    }
  }
  return out.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/** The operations whose path, id or tag holds `text`, grouped by tag in order. */
export function grouped(ops: Operation[], text: string): [string, Operation[]][] {
  const needle = text.trim().toLowerCase();
  const groups = new Map<string, Operation[]>();
  for (const op of ops) {
    const hay = `${op.method} ${op.path} ${op.id} ${op.tag}`.toLowerCase();
    if (needle && !hay.includes(needle)) continue;
    const list = groups.get(op.tag) ?? [];
    list.push(op);
    groups.set(op.tag, list);
  }
  return [...groups.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}
