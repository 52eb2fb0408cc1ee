DROP INDEX `assets_organization_idx`;--> statement-breakpoint
CREATE INDEX `assets_organization_idx` ON `assets` (`organization_id`,`id`);--> statement-breakpoint
DROP INDEX `crm_leads_organization_idx`;--> statement-breakpoint
CREATE INDEX `crm_leads_organization_idx` ON `crm_leads` (`organization_id`,`id`);--> statement-breakpoint
DROP INDEX `hr_employees_organization_idx`;--> statement-breakpoint
CREATE INDEX `hr_employees_organization_idx` ON `hr_employees` (`organization_id`,`id`);--> statement-breakpoint
DROP INDEX `manufacturing_orders_organization_idx`;--> statement-breakpoint
CREATE INDEX `manufacturing_orders_organization_idx` ON `manufacturing_orders` (`organization_id`,`id`);--> statement-breakpoint
DROP INDEX `marketing_campaigns_organization_idx`;--> statement-breakpoint
CREATE INDEX `marketing_campaigns_organization_idx` ON `marketing_campaigns` (`organization_id`,`id`);--> statement-breakpoint
DROP INDEX `menus_organization_idx`;--> statement-breakpoint
CREATE INDEX `menus_organization_idx` ON `menus` (`organization_id`,`id`);--> statement-breakpoint
DROP INDEX `restaurants_organization_idx`;--> statement-breakpoint
CREATE INDEX `restaurants_organization_idx` ON `restaurants` (`organization_id`,`id`);--> statement-breakpoint
DROP INDEX `service_tickets_organization_idx`;--> statement-breakpoint
CREATE INDEX `service_tickets_organization_idx` ON `service_tickets` (`organization_id`,`id`);--> statement-breakpoint
DROP INDEX `transport_trips_organization_idx`;--> statement-breakpoint
CREATE INDEX `transport_trips_organization_idx` ON `transport_trips` (`organization_id`,`id`);--> statement-breakpoint
DROP INDEX `transport_vehicles_organization_idx`;--> statement-breakpoint
CREATE INDEX `transport_vehicles_organization_idx` ON `transport_vehicles` (`organization_id`,`id`);