// Click-to-dial (一键拨号) from wherever a number is: one place that knows
// whether the user can dial it and starts the call, so a shown number and
// a typed one in a work order dial alike.
import { ref } from "vue";
import { useI18n } from "vue-i18n";
import { ElMessage } from "element-plus";
import { formatPhone } from "./format";
import { session } from "../session/me";
import { dial as dialNumber } from "../api/calls";
import { errorText } from "../i18n";

/** Whether `raw` can be dialled by this user: they have a line, and the number is whole (never a masked one). */
export function canDial(raw: string | null | undefined): boolean {
  return !!session.me?.can_dial && !!raw && !!raw.trim() && !raw.includes("*");
}

/** A dial button's state and action; `dialling` while the request is out. */
export function useDial() {
  const { t } = useI18n();
  const dialling = ref(false);
  async function call(raw: string): Promise<void> {
    if (!canDial(raw) || dialling.value) return;
    dialling.value = true;
    const shown = formatPhone(raw);
    try {
      const started = await dialNumber({ number: raw });
      ElMessage.success(t("dial.started", { number: shown, line: started.line }));
      if (started.extension) ElMessage.info({ message: t("dial.extension", { extension: started.extension }), duration: 10000 });
    } catch (e) {
      ElMessage.error(errorText(e));
    } finally {
      dialling.value = false;
    }
  }
  return { dialling, call };
}
