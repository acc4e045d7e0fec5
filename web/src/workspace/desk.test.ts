import { beforeEach, describe, expect, it } from "vitest";
import { Desk, type Card } from "./desk";
import { Drafts } from "./drafts";
import { samplePop } from "./fixtures.test-util";

const pop = samplePop;

describe("Desk", () => {
  let desk: Desk;
  beforeEach(() => {
    desk = new Desk(7);
    desk.receive({ type: "hello", seq: 1, data: { session_id: "s1", heartbeat_secs: 10 } }, 0);
  });

  it("starts a session from hello and resumes it on the next hello", () => {
    expect(desk.sessionId).toBe("s1");
    expect(desk.lastSeq).toBe(1);
    desk.receive({ type: "agent.state", seq: 2, data: { user_id: 7, state: "ready", reason: null, since: 0 } }, 0);
    const effects = desk.receive({ type: "hello", seq: 1, data: { session_id: "s2", heartbeat_secs: 10 } }, 0);
    expect(effects).toContainEqual({ kind: "send", message: { type: "resume", data: { session_id: "s1", last_seq: 2 } } });
    expect(desk.sessionId).toBe("s1");
  });

  it("gives three pops three cards in arrival order, acked and alerted once each", () => {
    const effects = ["a", "b", "c"].flatMap((id, i) => desk.receive({ type: "call.ringing", seq: 2 + i, data: pop(id) }, i));
    expect(desk.cards.map((c) => c.callId)).toEqual(["a", "b", "c"]);
    expect(effects.filter((e) => e.kind === "alert")).toHaveLength(3);
    expect(effects).toContainEqual({ kind: "send", message: { type: "ack", data: { seq: 3 } } });
  });

  it("treats a repeated pop as an update of the same card, in the same place", () => {
    desk.receive({ type: "call.ringing", seq: 2, data: pop("a") }, 0);
    desk.receive({ type: "call.ringing", seq: 3, data: pop("b") }, 0);
    desk.receive({ type: "call.answered", seq: 4, data: { call_id: "a" } }, 0);
    // a fresh session after a reconnect storm pops "a" again
    const again = desk.receive({ type: "call.ringing", seq: 5, data: pop("a", { caller_name: "WANG" }) }, 0);
    expect(again.some((e) => e.kind === "alert")).toBe(false);
    expect(desk.cards.map((c) => c.callId)).toEqual(["a", "b"]);
    expect(desk.cards[0].status).toBe("answered");
    expect(desk.cards[0].pop.caller_name).toBe("WANG");
  });

  it("resumes after a reload without losing the replay to the new session's own messages", () => {
    const again = new Desk(7, { sessionId: "s1", lastSeq: 2 });
    const first = again.receive({ type: "hello", seq: 1, data: { session_id: "s9", heartbeat_secs: 10 } }, 0);
    expect(first).toContainEqual({ kind: "send", message: { type: "resume", data: { session_id: "s1", last_seq: 2 } } });
    // the new session's own messages (seq 2, 3), then the replay of s1 (3, 4), then resumed
    again.receive({ type: "agent.state", seq: 2, data: { user_id: 7, state: "ready", reason: null, since: 0 } }, 0);
    const junkPop = again.receive({ type: "call.ringing", seq: 3, data: pop("a") }, 0);
    expect(junkPop.some((e) => e.kind === "send"), "no ack while resuming").toBe(false);
    expect(again.receive({ type: "heartbeat", seq: 9 }, 0)).toEqual([]);
    again.receive({ type: "call.ringing", seq: 3, data: pop("a") }, 0);
    again.receive({ type: "call.answered", seq: 4, data: { call_id: "a" } }, 0);
    again.receive({ type: "resumed", seq: 5, data: { session_id: "s1", replayed: 2 } }, 0);
    expect(again.cards.map((c) => [c.callId, c.status])).toEqual([["a", "answered"]]);
    expect(again.lastSeq).toBe(5);
    expect(again.resuming).toBe(false);
    const next = again.receive({ type: "call.ringing", seq: 6, data: pop("b") }, 0);
    expect(next).toContainEqual({ kind: "send", message: { type: "ack", data: { seq: 6 } } });
  });

  it("ignores replayed messages it has handled", () => {
    desk.receive({ type: "call.ringing", seq: 2, data: pop("a") }, 0);
    desk.receive({ type: "call.ended", seq: 3, data: { call_id: "a", outcome: "missed" } }, 0);
    desk.receive({ type: "call.answered", seq: 3, data: { call_id: "a" } }, 0);
    expect(desk.cards[0].status).toBe("ended");
    expect(desk.cards[0].outcome).toBe("missed");
  });

  it("asks to reconnect when a heartbeat shows a gap", () => {
    expect(desk.receive({ type: "heartbeat", seq: 1 }, 0)).toEqual([]);
    expect(desk.receive({ type: "heartbeat", seq: 4 }, 0)).toEqual([{ kind: "reconnect" }]);
  });

  it("keeps a claimed call's status to what the line says", () => {
    desk.receive({ type: "call.ringing", seq: 2, data: pop("a", { team: "sales" }) }, 0);
    desk.receive({ type: "call.ended", seq: 3, data: { call_id: "a", outcome: "missed" } }, 0);
    expect(desk.cards[0].status).toBe("ended");
    desk.receive({ type: "call.ringing", seq: 4, data: pop("b", { team: "sales" }) }, 0);
    desk.receive({ type: "call.closed", seq: 5, data: { call_id: "b", by: "李强" } }, 0);
    desk.receive({ type: "call.ended", seq: 6, data: { call_id: "b", outcome: "answered" } }, 0);
    expect(desk.cards[1].status).toBe("taken");
    expect(desk.cards[1].takenBy).toBe("李强");
  });

  it("settles commands and follows only its own agent state", () => {
    expect(desk.receive({ type: "result", seq: 2, data: { id: "k", result: { ok: 1 } } }, 0)).toEqual([
      { kind: "settle", id: "k", ok: true, value: { ok: 1 } },
    ]);
    desk.receive({ type: "agent.state", seq: 3, data: { user_id: 8, state: "ready", reason: null, since: 0 } }, 0);
    expect(desk.agent).toBeNull();
  });

  it("shows a snapshot's pops, alerting only those never acknowledged", () => {
    const effects = desk.receive(
      { type: "snapshot", seq: 9, data: { session_id: "s3", agent: { user_id: 7, state: "on_call", reason: null, since: 0 }, pops: [pop("a", { acked: true }), pop("b", { acked: false })] } },
      0,
    );
    expect(desk.cards).toHaveLength(2);
    expect(effects.filter((e) => e.kind === "alert")).toEqual([{ kind: "alert", callId: "b" }]);
    expect(desk.sessionId).toBe("s3");
    expect(desk.lastSeq).toBe(9);
  });
});

describe("Drafts", () => {
  function card(callId: string, arrivedAt: number): Card {
    return { callId, pop: pop(callId), status: "ringing", outcome: null, takenBy: null, arrivedAt, savedOrderId: null, restored: false };
  }

  it("keeps each user's drafts apart, oldest card first, and drops stale ones", () => {
    localStorage.clear();
    const now = 8 * 24 * 3600 * 1000;
    const fresh = now - 1000;
    const mine = new Drafts(localStorage, 1);
    const theirs = new Drafts(localStorage, 2);
    mine.put({ card: card("b", 20), workOrder: { summary: "二" }, newCustomer: {}, saveKey: "k", updatedAt: fresh });
    mine.put({ card: card("a", 10), workOrder: { summary: "一" }, newCustomer: {}, saveKey: "k", updatedAt: fresh });
    mine.put({ card: card("old", 5), workOrder: {}, newCustomer: {}, saveKey: "k", updatedAt: 0 });
    theirs.put({ card: card("c", 30), workOrder: {}, newCustomer: {}, saveKey: "k", updatedAt: fresh });
    expect(mine.all(now).map((d) => d.card.callId)).toEqual(["a", "b"]);
    expect(mine.get("old")).toBeNull();
    expect(theirs.all(now)).toHaveLength(1);
    mine.drop("a");
    expect(mine.all(now).map((d) => d.card.callId)).toEqual(["b"]);
  });
});

describe("Desk, dialled calls", () => {
  let desk: Desk;
  beforeEach(() => {
    desk = new Desk(7);
    desk.receive({ type: "hello", seq: 1, data: { session_id: "s1", heartbeat_secs: 10 } }, 0);
  });

  it("shows a dialled call dialling, then alerting, answered and ended, without ringing at the agent", () => {
    const effects = desk.receive({ type: "call.ringing", seq: 2, data: pop("o", { direction: "outbound" }) }, 0);
    expect(effects.some((e) => e.kind === "alert")).toBe(false);
    expect(effects).toContainEqual({ kind: "send", message: { type: "ack", data: { seq: 2 } } });
    expect(desk.card("o")?.status).toBe("dialling");
    expect(desk.isLiveOutbound("o")).toBe(true);
    desk.receive({ type: "call.alerting", seq: 3, data: { call_id: "o" } }, 0);
    expect(desk.card("o")?.status).toBe("alerting");
    desk.receive({ type: "call.answered", seq: 4, data: { call_id: "o" } }, 0);
    expect(desk.card("o")?.status).toBe("answered");
    desk.receive({ type: "call.ended", seq: 5, data: { call_id: "o", outcome: "answered" } }, 0);
    expect(desk.isLiveOutbound("o")).toBe(false);
  });

  it("amends a pop with each CRM's answer, a later one replacing the same CRM's", () => {
    desk.receive({ type: "call.ringing", seq: 2, data: pop("a") }, 0);
    const contact = { id: "42", name: "王伟", company: null, owner: null, link: "http://crm/42" };
    desk.receive({ type: "call.crm", seq: 3, data: { call_id: "a", crm: { connector: "Espo", contact } } }, 0);
    desk.receive({ type: "call.crm", seq: 4, data: { call_id: "a", crm: { connector: "Odoo", contact: null } } }, 0);
    desk.receive({ type: "call.crm", seq: 5, data: { call_id: "a", crm: { connector: "Espo", contact: { ...contact, name: "王伟 VIP" } } } }, 0);
    desk.receive({ type: "call.crm", seq: 6, data: { call_id: "gone", crm: { connector: "Espo", contact } } }, 0);
    expect(desk.cards).toHaveLength(1);
    expect(desk.cards[0].pop.crm?.map((a) => [a.connector, a.contact?.name ?? null])).toEqual([
      ["Odoo", null],
      ["Espo", "王伟 VIP"],
    ]);
  });

  it("keeps a failed dial's outcome and the device's reason", () => {
    desk.receive({ type: "call.ringing", seq: 2, data: pop("o", { direction: "outbound" }) }, 0);
    desk.receive({ type: "call.ended", seq: 3, data: { call_id: "o", outcome: "failed", reason: "+CME ERROR: 30" } }, 0);
    expect(desk.card("o")).toMatchObject({ status: "ended", outcome: "failed", reason: "+CME ERROR: 30" });
  });
});
