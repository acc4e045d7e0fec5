import { describe, expect, it } from "vitest";
import { fieldsOf, grouped, operationsOf, typeOf } from "./openapi";

// A document shaped as the server makes it (utoipa's output).
const doc = {
  openapi: "3.1.0",
  paths: {
    "/api/customers/{id}/notes": {
      post: {
        tags: ["directory"],
        operationId: "directory_add_note",
        "x-callpop-roles": [{ role: "agent", reach: "own" }, { role: "admin", reach: "all" }],
        "x-callpop-token-scope": "customers:write",
        security: [{ token: [] }, { session: [] }],
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "integer", format: "int64" } }],
        requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/NoteBody" } } } },
        responses: { "200": {}, "4XX": {} },
      },
    },
    "/api/login": { post: { tags: ["auth"], operationId: "auth_login", responses: { "200": {} } } },
    "/api/history": {
      get: {
        tags: ["history"],
        operationId: "history_list",
        security: [{ token: [] }],
        parameters: [{ name: "outcome", in: "query", required: false, schema: { type: ["string", "null"] } }],
        responses: {},
      },
    },
  },
  components: {
    schemas: {
      NoteBody: {
        type: "object",
        required: ["body"],
        properties: {
          body: { type: "string" },
          call_uid: { oneOf: [{ type: "null" }, { type: "string" }] },
          tags: { type: "array", items: { type: "string" } },
          kind: { type: "string", enum: ["call", "visit"] },
        },
      },
    },
  },
};

describe("the API reference's reading of the document", () => {
  it("lists every operation with who may use it", () => {
    const ops = operationsOf(doc);
    expect(ops.map((o) => `${o.method} ${o.path}`)).toEqual([
      "POST /api/customers/{id}/notes",
      "GET /api/history",
      "POST /api/login",
    ]);
    const note = ops[0];
    expect(note.roles).toEqual([{ role: "agent", reach: "own" }, { role: "admin", reach: "all" }]);
    expect(note.tokenScope).toBe("customers:write");
    expect(note.public).toBe(false);
    expect(ops[2].public).toBe(true);
    expect(note.params).toEqual([{ name: "id", in: "path", type: "integer", required: true }]);
    expect(ops[1].params[0].type).toBe("string");
  });

  it("flattens a body's schema into its fields", () => {
    const [note] = operationsOf(doc);
    expect(note.body?.contentType).toBe("application/json");
    expect(note.body?.fields).toEqual([
      { name: "body", type: "string", required: true },
      { name: "call_uid", type: "string", required: false },
      { name: "tags", type: "string[]", required: false },
      { name: "kind", type: "call | visit", required: false },
    ]);
    expect(fieldsOf(doc, undefined)).toEqual([]);
    expect(typeOf(doc, { $ref: "#/components/schemas/NoteBody" })).toBe("NoteBody");
  });

  it("filters by any part and groups by tag", () => {
    const ops = operationsOf(doc);
    expect(grouped(ops, "").map(([tag]) => tag)).toEqual(["auth", "directory", "history"]);
    expect(grouped(ops, " NOTE ").map(([tag, list]) => [tag, list.length])).toEqual([["directory", 1]]);
    expect(grouped(ops, "nothing like it")).toEqual([]);
  });
});
