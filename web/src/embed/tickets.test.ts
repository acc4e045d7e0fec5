import { describe, expect, it } from "vitest";
import { desktopSocketUrl, refusedForGood } from "./tickets";

describe("desktop tickets", () => {
  it("opens the socket on the server's scheme, host and port", () => {
    expect(desktopSocketUrl("http://10.0.0.5:8080", "cpt_a-b_c")).toBe("ws://10.0.0.5:8080/ws?ticket=cpt_a-b_c");
    expect(desktopSocketUrl("https://callpop.example.com/", "t")).toBe("wss://callpop.example.com/ws?ticket=t");
    expect(desktopSocketUrl("HTTPS://x", "a+b")).toBe("wss://x/ws?ticket=a%2Bb");
  });

  it("stops on a refusal and retries what may pass later", () => {
    for (const s of [401, 403, 404]) expect(refusedForGood(s)).toBe(true);
    for (const s of [429, 500, 502, 503]) expect(refusedForGood(s)).toBe(false);
  });
});
