-- Down migration of 0005_restaurants_menus: the restaurants and menus modules' tables go (their rows are lost).
DROP TABLE IF EXISTS menus;
--> statement-breakpoint
DROP TABLE IF EXISTS restaurants;
