DROP INDEX "assets_organization_idx";--> statement-breakpoint
DROP INDEX "crm_leads_organization_idx";--> statement-breakpoint
DROP INDEX "hr_employees_organization_idx";--> statement-breakpoint
DROP INDEX "manufacturing_orders_organization_idx";--> statement-breakpoint
DROP INDEX "marketing_campaigns_organization_idx";--> statement-breakpoint
DROP INDEX "menus_organization_idx";--> statement-breakpoint
DROP INDEX "restaurants_organization_idx";--> statement-breakpoint
DROP INDEX "service_tickets_organization_idx";--> statement-breakpoint
DROP INDEX "transport_trips_organization_idx";--> statement-breakpoint
DROP INDEX "transport_vehicles_organization_idx";--> statement-breakpoint
CREATE INDEX "assets_organization_idx" ON "assets" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "crm_leads_organization_idx" ON "crm_leads" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "hr_employees_organization_idx" ON "hr_employees" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "manufacturing_orders_organization_idx" ON "manufacturing_orders" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "marketing_campaigns_organization_idx" ON "marketing_campaigns" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "menus_organization_idx" ON "menus" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "restaurants_organization_idx" ON "restaurants" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "service_tickets_organization_idx" ON "service_tickets" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "transport_trips_organization_idx" ON "transport_trips" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "transport_vehicles_organization_idx" ON "transport_vehicles" USING btree ("organization_id","id");