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

/** `Blue Harbor Catering` → `blue-harbor-catering` (demo e-mail domains). */
function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

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
      // Seed 000's demo leads: the executive's, the manager's and the admin's (record scope shows).
      demo: ({ companies: [c1, c2, c3, c4, c5] }) => [
        {
          owner: "executive",
          name: `${c1} — bulk order`,
          company: c1,
          email: `buyer@${slug(c1)}.example`,
          status: "new",
          source: "website",
          valueCents: 1_250_000,
        },
        {
          owner: "executive",
          name: `${c2} — catering`,
          company: c2,
          email: `events@${slug(c2)}.example`,
          status: "contacted",
          source: "referral",
          valueCents: 480_000,
        },
        {
          owner: "manager",
          name: `${c3} — partnership`,
          company: c3,
          email: `hello@${slug(c3)}.example`,
          status: "qualified",
          source: "trade show",
          valueCents: 2_900_000,
        },
        {
          owner: "manager",
          name: `${c4} — renewal`,
          company: c4,
          email: `ops@${slug(c4)}.example`,
          status: "proposal",
          source: "existing customer",
          valueCents: 760_000,
        },
        {
          owner: "admin",
          name: `${c5} — enterprise deal`,
          company: c5,
          email: `cto@${slug(c5)}.example`,
          status: "won",
          source: "outbound",
          valueCents: 5_400_000,
        },
      ],
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
