// The custom fields' definitions, read once per page load and shared by
// every view that shows a customer's custom values.
import { ref } from "vue";
import { customerFields, type CustomFieldDef } from "../api/customerFields";

const defs = ref<CustomFieldDef[]>([]);
let loading: Promise<void> | null = null;

/** The definitions; filled once the first caller's request answers. */
export function useCustomFieldDefs() {
  if (!loading) {
    loading = customerFields()
      .then((r) => {
        defs.value = r.fields;
      })
      .catch(() => {
        loading = null; // asked again next time
      });
  }
  return defs;
}

/** The values a pop shows: the fields marked for it that have a value, labelled. */
export function popFields(list: CustomFieldDef[], values: Record<string, unknown>, locale: string): { key: string; label: string; text: string }[] {
  return list
    .filter((d) => d.in_pop && values[d.key] != null && String(values[d.key]).trim() !== "")
    .map((d) => {
      const raw = String(values[d.key]);
      const option = d.options?.find((o) => o.value === raw);
      const text = option ? (locale === "zh-CN" ? option.label_zh : option.label_en) : raw;
      return { key: d.key, label: locale === "zh-CN" ? d.label_zh : d.label_en, text };
    });
}
