/** Finance (seed 000's license catalog): licensed, no record tables yet. */
import { defineModule } from "../src/modules/define.ts";

export default defineModule({
  key: "finance",
  description: "Finance",
  licensing: { tiers: ["professional", "enterprise"] },
});
