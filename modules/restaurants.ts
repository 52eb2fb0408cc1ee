/** Restaurants (seed 002's "Future" module): licensed to Enterprise; permissions in seed 002's colon style. */
import { defineModule } from "../src/modules/define.ts";

export default defineModule({
  key: "restaurants",
  description: "Restaurants",
  licensing: { tiers: ["enterprise"] },
  colonActions: ["create", "read", "update", "delete"],
});
