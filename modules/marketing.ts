/** Marketing (seed 000): campaigns, read-only over the API; Professional and up. */
import { defineModule, enumOf, money, serial, text, timestamp } from "../src/modules/define.ts";

const DAY = 86_400_000;
const EPOCH = Date.UTC(2024, 0, 1);

export default defineModule({
  key: "marketing",
  description: "Marketing campaigns",
  licensing: { tiers: ["professional", "enterprise"] },
  resources: {
    campaigns: {
      table: "marketing_campaigns",
      type: "marketing_campaign",
      noun: "campaign",
      schemaName: "Campaign",
      readOnly: true,
      fields: {
        name: text().notNull().max(200),
        channel: text().notNull().max(100),
        status: enumOf(["draft", "active", "completed"]).notNull().default("draft"),
        budgetCents: money().notNull().default(0),
        startsAt: timestamp(),
        endsAt: timestamp(),
      },
      unique: [{ columns: ["name"] }],
      demo: () => [
        {
          owner: "manager",
          name: "Spring menu launch",
          channel: "email",
          status: "active",
          budgetCents: 250_000,
        },
        {
          owner: "executive",
          name: "Local radio spots",
          channel: "radio",
          status: "draft",
          budgetCents: 120_000,
        },
        {
          owner: "admin",
          name: "Loyalty relaunch",
          channel: "social",
          status: "completed",
          budgetCents: 400_000,
        },
      ],
      volume: (i, { r }) => {
        const start = new Date(EPOCH + r.int(0, 365) * DAY);
        return {
          name: `VOL-CAMPAIGN-${serial(i)}`,
          channel: r.pick(["email", "social", "radio", "print", "search"]),
          status: r.pick(["draft", "active", "completed"]),
          budgetCents: r.int(50_000, 5_000_000),
          startsAt: start,
          endsAt: new Date(start.getTime() + r.int(7, 90) * DAY),
        };
      },
    },
  },
});
