/** Asset management (seed 000): assets, read-only over the API; Professional and up. */
import { defineModule, enumOf, money, serial, text } from "../src/modules/define.ts";

const ASSETS = ["Delivery tablet", "Oven", "Freezer", "Laptop", "POS terminal", "Scooter"];

export default defineModule({
  key: "asset",
  description: "Asset management",
  licensing: { tiers: ["professional", "enterprise"] },
  resources: {
    assets: {
      table: "assets",
      type: "asset",
      path: "/api/v1/assets",
      noun: "asset",
      schemaName: "Asset",
      readOnly: true,
      fields: {
        assetTag: text().notNull().max(64),
        name: text().notNull().max(200),
        category: text().notNull().max(100),
        status: enumOf(["in_service", "maintenance", "retired"]).notNull().default("in_service"),
        purchaseValueCents: money(),
      },
      unique: [{ columns: ["assetTag"], name: "assets_org_tag_uq" }],
      demo: ({ prefix }) => [
        {
          owner: "admin",
          assetTag: `${prefix}-AST-0001`,
          name: "Walk-in freezer",
          category: "equipment",
          purchaseValueCents: 1_800_000,
        },
        {
          owner: "manager",
          assetTag: `${prefix}-AST-0002`,
          name: "Delivery tablet",
          category: "electronics",
          purchaseValueCents: 45_000,
        },
        {
          owner: "executive",
          assetTag: `${prefix}-AST-0003`,
          name: "Laptop",
          category: "electronics",
          purchaseValueCents: 160_000,
        },
      ],
      volume: (i, { r }) => ({
        assetTag: `VOL-AST-${serial(i)}`,
        name: r.pick(ASSETS),
        category: r.pick(["equipment", "electronics", "vehicle", "furniture"]),
        status: r.pick(["in_service", "maintenance", "retired"]),
        purchaseValueCents: r.int(10_000, 5_000_000),
      }),
    },
  },
});
