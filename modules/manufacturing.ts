/** Manufacturing (seed 000): production orders; Enterprise, a 30-day trial on Professional. */
import { defineModule, enumOf, integer, serial, text, timestamp } from "../src/modules/define.ts";

const PRODUCTS = ["Frozen dough", "Sauce base", "Salad mix", "Spice blend", "Meal kit", "Dessert tray"];
const DAY = 86_400_000;
const EPOCH = Date.UTC(2024, 0, 1);

export default defineModule({
  key: "manufacturing",
  description: "Manufacturing orders",
  licensing: { tiers: ["enterprise"], trials: { professional: 30 } },
  resources: {
    orders: {
      table: "manufacturing_orders",
      type: "manufacturing_order",
      noun: "order",
      schemaName: "ManufacturingOrder",
      fields: {
        orderNumber: text().notNull().max(64),
        product: text().notNull().max(200),
        quantity: integer().notNull().min(1).max(1_000_000_000),
        status: enumOf(["planned", "in_progress", "completed", "cancelled"]).notNull().default("planned"),
        dueDate: timestamp(),
      },
      unique: [{ columns: ["orderNumber"], name: "manufacturing_orders_org_number_uq" }],
      demo: ({ prefix }) => [
        {
          owner: "manager",
          orderNumber: `${prefix}-MO-0001`,
          product: "Frozen dough (pallet)",
          quantity: 40,
          status: "planned",
        },
        {
          owner: "admin",
          orderNumber: `${prefix}-MO-0002`,
          product: "Sauce base (drum)",
          quantity: 12,
          status: "in_progress",
        },
      ],
      volume: (i, { r }) => ({
        orderNumber: `VOL-MO-${serial(i)}`,
        product: r.pick(PRODUCTS),
        quantity: r.int(1, 500),
        status: r.pick(["planned", "in_progress", "completed"]),
        dueDate: new Date(EPOCH + r.int(0, 365) * DAY),
      }),
    },
  },
});
