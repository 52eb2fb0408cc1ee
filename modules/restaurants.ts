/**
 * Restaurants (seed 002's "Restaurant Management"): permissions `restaurants:create|read|update|delete` in
 * seed 002's colon style, licensed to Enterprise (the demo organizations turn it on). Shared: every member
 * who may read restaurants reads the organization's restaurants (customers browse them); writes stay within
 * the writer's record scope. The worked example of docs/modules.md.
 */
import { boolean, defineModule, serial, text } from "../src/modules/define.ts";

const CUISINES = ["Pizza", "Sushi", "Tacos", "Burgers", "Curry", "Salads", "Noodles", "Bakery"];
const STREETS = ["Main St", "Oak Ave", "Harbor Rd", "Elm St", "Market St", "Park Ln"];

export default defineModule({
  key: "restaurants",
  description: "Restaurants",
  licensing: { tiers: ["enterprise"] },
  colonActions: ["create", "read", "update", "delete"],
  resources: {
    restaurants: {
      table: "restaurants",
      type: "restaurant",
      path: "/api/v1/restaurants",
      noun: "restaurant",
      schemaName: "Restaurant",
      shared: true,
      fields: {
        name: text().notNull().max(200),
        description: text().max(2000),
        address: text().max(500),
        phone: text().max(50),
        cuisine: text().max(100),
        isActive: boolean().notNull().default(true),
      },
      unique: [{ columns: ["name"] }],
      volume: (i, { r }) => ({
        name: `VOL-REST-${serial(i)}`,
        description: `${r.pick(CUISINES)} kitchen`,
        address: `${r.int(1, 999)} ${r.pick(STREETS)}`,
        cuisine: r.pick(CUISINES),
        isActive: r.int(0, 9) > 0,
      }),
    },
  },
});
