// Routes of the app; a route a role may not open shows "not allowed" (the
// server refuses its data and answers 403 for the page itself).
import { createRouter, createWebHistory } from "vue-router";
import { loadMe, mayOpen, session } from "./session/me";
import { homePath } from "./nav";
import type { PageKey } from "./api/types";

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: "/login", name: "login", component: () => import("./views/LoginView.vue"), meta: { public: true } },
    { path: "/workspace", name: "workspace", component: () => import("./workspace/WorkspaceView.vue"), meta: { page: "workspace" } },
    { path: "/customers", name: "customers", component: () => import("./customers/CustomersView.vue"), meta: { page: "customers" } },
    { path: "/workorders", name: "workorders", component: () => import("./workorders/WorkOrdersView.vue"), meta: { page: "workorders" } },
    {
      path: "/workorders/:id/print",
      name: "workorder_print",
      component: () => import("./workorders/WorkOrderPrint.vue"),
      meta: { page: "workorders", bare: true },
    },
    { path: "/history", name: "history", component: () => import("./history/HistoryView.vue"), meta: { page: "history" } },
    { path: "/recordings", name: "recordings", component: () => import("./recordings/RecordingsView.vue"), meta: { page: "recordings" } },
    { path: "/reports", name: "reports", component: () => import("./reports/ReportsView.vue"), meta: { page: "reports" } },
    { path: "/wallboard", name: "wallboard", component: () => import("./wallboard/WallboardView.vue"), meta: { page: "wallboard" } },
    { path: "/sms", name: "sms", component: () => import("./sms/SmsView.vue"), meta: { page: "sms" } },
    { path: "/admin", name: "admin", component: () => import("./admin/AdminView.vue"), meta: { page: "admin" } },
    { path: "/forbidden", name: "forbidden", component: () => import("./views/ForbiddenView.vue") },
    { path: "/", name: "home", component: () => import("./views/ForbiddenView.vue") },
    { path: "/:rest(.*)*", name: "not_found", component: () => import("./views/NotFoundView.vue") },
  ],
});

router.beforeEach(async (to) => {
  if (!session.checked) await loadMe().catch(() => null);
  if (to.meta.public) {
    if (!session.me) return true;
    return homePath(session.me.pages);
  }
  if (!session.me) return { name: "login", query: to.fullPath !== "/" ? { next: to.fullPath } : {} };
  if (to.name === "home") return homePath(session.me.pages);
  const page = to.meta.page as PageKey | undefined;
  if (page && !mayOpen(page)) return { name: "forbidden" };
  return true;
});
