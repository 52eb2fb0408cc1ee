/**
 * THE module registry: every module of this Seedbed, in order. This is the one list; the schema (both
 * dialects), migrations, routes, permissions, tiers, AuthZEN, volume data, backups and OpenAPI read it
 * (`src/modules/registry.ts`). `deno task new module <name>` adds a line here. Story: docs/modules.md.
 */
import { PLATFORM_MODULES } from "./platform.ts";
import crm from "./crm.ts";
import sales from "./sales.ts";
import inventory from "./inventory.ts";
import hr from "./hr.ts";
import marketing from "./marketing.ts";
import service from "./service.ts";
import finance from "./finance.ts";
import asset from "./asset.ts";
import transport from "./transport.ts";
import manufacturing from "./manufacturing.ts";
import restaurants from "./restaurants.ts";
import menus from "./menus.ts";

export const MODULES = [
  ...PLATFORM_MODULES,
  crm,
  sales,
  inventory,
  hr,
  marketing,
  service,
  finance,
  asset,
  transport,
  manufacturing,
  restaurants,
  menus,
] as const;
