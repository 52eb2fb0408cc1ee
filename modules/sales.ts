/** Sales (seed 000's license catalog): licensed, no record tables yet. */
import { defineModule } from "../src/modules/define.ts";

export default defineModule({
  key: "sales",
  description: "Sales",
  licensing: { tiers: ["starter", "professional", "enterprise"] },
});
