/** Service (seed 000): support tickets, read-only over the API; Professional and up. */
import { defineModule, DemoOwner, enumOf, serial, text } from "../src/modules/define.ts";

const SUBJECTS = ["Late delivery", "Damaged package", "Billing question", "App login issue", "Missing item"];
const CITIES = ["Springfield", "Shelbyville", "Ogdenville", "Capital City", "North Haverbrook", "Brockway"];

export default defineModule({
  key: "service",
  description: "Customer service",
  licensing: { tiers: ["professional", "enterprise"] },
  resources: {
    tickets: {
      table: "service_tickets",
      type: "service_ticket",
      noun: "ticket",
      schemaName: "Ticket",
      readOnly: true,
      fields: {
        ticketNumber: text().notNull().max(64),
        subject: text().notNull().max(200),
        priority: enumOf(["low", "normal", "high", "urgent"]).notNull().default("normal"),
        status: enumOf(["open", "in_progress", "closed"]).notNull().default("open"),
        customerEmail: text().email().max(320),
      },
      unique: [{ columns: ["ticketNumber"], name: "service_tickets_org_number_uq" }],
      demo: ({ prefix }) =>
        [
          {
            owner: "executive",
            ticketNumber: `${prefix}-TCK-0001`,
            subject: "Late delivery to downtown store",
            priority: "high",
            status: "open",
          },
          {
            owner: "executive",
            ticketNumber: `${prefix}-TCK-0002`,
            subject: "Invoice shows wrong VAT",
            priority: "normal",
            status: "in_progress",
          },
          {
            owner: "manager",
            ticketNumber: `${prefix}-TCK-0003`,
            subject: "Refrigeration unit alarm",
            priority: "urgent",
            status: "open",
          },
          {
            owner: "admin",
            ticketNumber: `${prefix}-TCK-0004`,
            subject: "Access request for new hire",
            priority: "low",
            status: "closed",
          },
        ].map((t) => ({ ...t, owner: t.owner as DemoOwner, customerEmail: "customer@example.com" })),
      volume: (i, { r }) => ({
        ticketNumber: `VOL-TCK-${serial(i)}`,
        subject: `${r.pick(SUBJECTS)} (${r.pick(CITIES)})`,
        priority: r.pick(["low", "normal", "high", "urgent"]),
        status: r.pick(["open", "in_progress", "closed"]),
        customerEmail: `customer${r.int(1, 99_999)}@example.com`,
      }),
    },
  },
});
