/** Inventory (seed 000's license catalog): licensed, no record tables yet. */
import { defineModule } from "../src/modules/define.ts";

export default defineModule({
  key: "inventory",
  description: "Inventory",
  licensing: { tiers: ["starter", "professional", "enterprise"] },
});
