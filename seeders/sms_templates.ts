/**
 * SMSTemplatesSeeder: seed 002's four templates. Get-or-create, not upsert:
 * a template an operator edited keeps its wording on the next run.
 */
import { ALL_ENVS, defineSeeder } from "../src/seeding/types.ts";

export const SMS_TEMPLATES = [
  {
    name: "2fa_code",
    description: "Two-factor authentication",
    body: "Your FoodFleet verification code is {code}. It expires in {minutes} minutes.",
    variables: ["code", "minutes"],
  },
  {
    name: "password_reset",
    description: "Password reset notification",
    body: "Your FoodFleet password reset code is {code}. If you did not ask for it, ignore this message.",
    variables: ["code"],
  },
  {
    name: "order_confirmation",
    description: "Order confirmation",
    body: "Order {order_number} is confirmed. Total {total}. Estimated delivery {eta}.",
    variables: ["order_number", "total", "eta"],
  },
  {
    name: "order_delivered",
    description: "Delivery notification",
    body: "Order {order_number} has been delivered. Enjoy your meal!",
    variables: ["order_number"],
  },
];

export const smsTemplatesSeeder = defineSeeder({
  name: "SMSTemplatesSeeder",
  description: "Seeds the SMS notification templates",
  environments: ALL_ENVS,
  async seed(ctx) {
    for (const tpl of SMS_TEMPLATES) {
      await ctx.getOrCreate(ctx.t.smsTemplates, { name: tpl.name }, {
        body: tpl.body,
        description: tpl.description,
        variables: tpl.variables,
        isActive: true,
      });
    }
    return ctx.stats;
  },
});
