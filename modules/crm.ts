/** CRM (seed 000): leads, licensed to Starter and up, a 14-day trial on Free. */
import { defineModule, enumOf, money, serial, text } from "../src/modules/define.ts";

const COMPANY = [
  "Harbor",
  "Summit",
  "Golden",
  "Urban",
  "Prairie",
  "Coastal",
  "Maple",
  "Atlas",
  "Crescent",
  "Pioneer",
];
const KIND = ["Foods", "Bistro", "Catering", "Grocers", "Kitchens", "Bakery", "Provisions", "Markets"];

export default defineModule({
  key: "crm",
  description: "Customer relationship management",
  licensing: { tiers: ["starter", "professional", "enterprise"], trials: { free: 14 } },
  resources: {
    leads: {
      table: "crm_leads",
      type: "crm_lead",
      noun: "lead",
      schemaName: "Lead",
      fields: {
        name: text().notNull().max(200),
        email: text().email().max(320),
        company: text().max(200),
        status: enumOf(["new", "contacted", "qualified", "won", "lost"]).notNull().default("new"),
        source: text().max(100),
        valueCents: money().notNull().default(0),
      },
      unique: [{ columns: ["name"] }],
      volume: (i, { r }) => {
        const c = `${r.pick(COMPANY)} ${r.pick(KIND)}`;
        return {
          name: `VOL-LEAD-${serial(i)}`,
          company: c,
          email: `contact${i}@${c.toLowerCase().replace(/\s+/g, "-")}.example`,
          status: r.pick(["new", "contacted", "qualified", "proposal", "won", "lost"]),
          source: r.pick(["website", "referral", "trade show", "outbound"]),
          valueCents: r.int(10_000, 10_000_000),
        };
      },
    },
  },
});
