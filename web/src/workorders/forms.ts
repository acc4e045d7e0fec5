// The work-order forms (with their statuses), read once per page load and
// shared by every view that words an order's type or status.
import { ref } from "vue";
import { api } from "../api/http";
import type { WorkOrderForm } from "../api/types";

const forms = ref<Record<string, WorkOrderForm>>({});
let loading: Promise<void> | null = null;

/** The forms by key; filled once the first caller's request answers. */
export function useForms() {
  if (!loading) {
    loading = api<{ forms: WorkOrderForm[] }>("GET", "/api/forms")
      .then((r) => {
        forms.value = Object.fromEntries(r.forms.map((f) => [f.key, f]));
      })
      .catch(() => {
        loading = null; // asked again next time
      });
  }
  return forms;
}
