// The webhook outbox as the console shows it: endpoints (programs and
// group robots), their deliveries, and event types in words.
import { useI18n } from "vue-i18n";
import { ElMessage, ElMessageBox } from "element-plus";
import { api } from "../api/http";
import { errorText } from "../i18n";

/** An endpoint as `GET /api/webhooks` lists it (never its secret). */
export interface Endpoint {
  id: number;
  url: string;
  description: string;
  events: string[];
  active: boolean;
  created_at: number;
  kind: "webhook" | "dingtalk" | "wecom";
  teams: string[];
  quiet_from: number | null;
  quiet_to: number | null;
  per_minute: number;
  /** A 钉钉 robot with a 加签 secret. */
  signed: boolean;
  pending: number;
  dead: number;
}

/** What `GET /api/webhooks` answers. */
export interface EndpointList {
  endpoints: Endpoint[];
  event_types: string[];
  robot_events: string[];
}

/** One event's delivery to one endpoint. */
export interface Delivery {
  event: number;
  event_id: string;
  event_type: string;
  created_at: number;
  state: "pending" | "delivered" | "dead";
  attempts: number;
  next_at: number;
  last_status: number | null;
  last_error: string | null;
  updated_at: number;
}

/** `510` → `08:30`. */
export function clock(minutes: number | null): string {
  if (minutes === null) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/** An event type in words (`*`: all); an unknown one as its code. */
export function useEventTypeName(): (type: string) => string {
  const { t, te } = useI18n();
  return (type: string) => {
    if (type === "*") return t("admin.webhooks.all_events");
    const key = `admin.webhooks.types.${type.replace(".", "_")}`;
    return te(key) ? t(key) : type;
  };
}

/**
 * Deletes endpoint `id` once the admin confirms `question`: true when it
 * is gone, false when they changed their mind or it failed (said).
 */
export async function deleteEndpoint(id: number, question: string, title: string): Promise<boolean> {
  try {
    await ElMessageBox.confirm(question, title, { type: "warning" });
  } catch {
    return false;
  }
  try {
    await api("DELETE", `/api/webhooks/${id}`);
    return true;
  } catch (err) {
    ElMessage.error(errorText(err));
    return false;
  }
}
