/**
 * Menus (seed 002's "Menu Management"): a menu belongs to a restaurant of the same organization and lists its
 * items (JSON). Permissions `menus:create|read|update|delete`; licensed to Enterprise; shared like
 * restaurants. Deleting a restaurant deletes its menus.
 */
import { z } from "@hono/zod-openapi";
import { boolean, defineModule, json, ref, serial, text } from "../src/modules/define.ts";

const MenuItem = z.object({
  name: z.string().trim().min(1).max(200),
  price_cents: z.number().int().min(0).max(1e9),
  description: z.string().max(500).optional(),
}).strict().openapi("MenuItem");

const DISHES = ["Margherita", "Pad Thai", "Caesar salad", "Ramen", "Burrito", "Falafel wrap", "Tiramisu"];

export default defineModule({
  key: "menus",
  description: "Menus",
  licensing: { tiers: ["enterprise"] },
  colonActions: ["create", "read", "update", "delete"],
  resources: {
    menus: {
      table: "menus",
      type: "menu",
      path: "/api/v1/menus",
      noun: "menu",
      schemaName: "Menu",
      shared: true,
      fields: {
        restaurantId: ref("restaurants", "cascade").notNull().index(),
        name: text().notNull().max(200),
        description: text().max(2000),
        items: json().notNull().default([]).shape(z.array(MenuItem).max(500)),
        isActive: boolean().notNull().default(true),
      },
      unique: [{ columns: ["restaurantId", "name"], name: "menus_org_restaurant_name_uq" }],
      // The restaurant is drawn from a pool that grows with --scale: find earlier runs' rows by name.
      volumeKey: "name",
      volume: (i, { r, refs }) => {
        const restaurants = refs("restaurants");
        return {
          restaurantId: r.pick(restaurants),
          name: `Menu VOL-${serial(i)}`,
          items: [
            { name: r.pick(DISHES), price_cents: r.int(300, 3000) },
            { name: r.pick(DISHES), price_cents: r.int(300, 3000) },
          ],
        };
      },
    },
  },
});
