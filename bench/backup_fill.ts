/**
 * SQL that fills a migrated Postgres database with about `total` realistic
 * rows spread over the application tables the way a tenant's data grows:
 * a few organizations and roles, tens of thousands of users, most rows in
 * the business modules (CRM leads, service tickets, orders, …). Values
 * include unicode, NULLs, JSON, big integers and timestamps.
 */

/** Rows per table at 1M, scaled linearly (with a small floor). */
const BASE = {
  organizations: 200,
  roles: 50,
  permissions: 100,
  role_permissions: 500,
  users: 20_000,
  user_modules: 20_000,
  user_permissions: 20_000,
  crm_leads: 300_000,
  service_tickets: 250_000,
  manufacturing_orders: 100_000,
  hr_employees: 60_000,
  assets: 60_000,
  marketing_campaigns: 20_000,
  transport_vehicles: 10_000,
  transport_trips: 80_000,
  files: 59_150,
};

export function fillSql(total: number): string {
  const f = total / 1_000_000;
  const n = Object.fromEntries(
    Object.entries(BASE).map(([k, v]) => [k, Math.max(Math.min(v, 10), Math.round(v * f))]),
  ) as Record<keyof typeof BASE, number>;
  const org = (x: string) => `1 + (${x}) % ${n.organizations}`;
  const user = (x: string) => `1 + (${x}) % ${n.users}`;
  const ts = (x: string) => `timestamptz '2023-01-01 00:00:00+00' + (${x}) * interval '37 seconds'`;
  return `
INSERT INTO organizations (name, slug, license_tier, enabled_modules, trial_ends, is_active, created_at, updated_at)
SELECT 'Organization ' || g || ' Ltd', 'org-' || g, (ARRAY['free','starter','pro','enterprise'])[1 + g % 4],
  jsonb_build_object('crm', g % 2 = 0, 'hr', g % 3 = 0, 'manufacturing', false),
  CASE WHEN g % 5 = 0 THEN jsonb_build_object('hr', '2030-01-01T00:00:00.000Z') ELSE '{}'::jsonb END,
  g % 17 <> 0, ${ts("g * 1000")}, ${ts("g * 1000 + 50")}
FROM generate_series(1, ${n.organizations}) g;

INSERT INTO roles (name, description, organization_id, scope_key, is_system, aliases, record_scope, created_at, updated_at)
SELECT 'role_' || g, CASE WHEN g % 2 = 0 THEN 'Custom role ' || g END, CASE WHEN g > 5 THEN ${org("g")} END,
  CASE WHEN g > 5 THEN ${
    org("g")
  } ELSE 0 END, g <= 5, jsonb_build_array('r' || g), (ARRAY['own','team','all'])[1 + g % 3],
  ${ts("g")}, ${ts("g")}
FROM generate_series(1, ${n.roles}) g;

INSERT INTO permissions (name, module, action, description, created_at)
SELECT 'module' || (g / 4) || ':' || (ARRAY['create','read','update','delete'])[1 + g % 4], 'module' || (g / 4),
  (ARRAY['create','read','update','delete'])[1 + g % 4], 'Permission number ' || g, ${ts("g")}
FROM generate_series(1, ${n.permissions}) g;

INSERT INTO role_permissions (role_id, permission_id, created_at)
SELECT 1 + g % ${n.roles}, 1 + (g / ${n.roles}) % ${n.permissions}, ${ts("g")}
FROM generate_series(0, ${n.role_permissions - 1}) g
ON CONFLICT DO NOTHING;

INSERT INTO users (email, username, full_name, password_hash, role, role_id, organization_id, reports_to_id, is_super_admin,
  is_company_admin, is_active, is_verified, must_change_password, password_changed_at, last_login_at, created_at, updated_at)
SELECT 'user' || g || '@example.com', CASE WHEN g % 3 <> 0 THEN 'user' || g END, 'Ünïcødé Üser ' || g || ' 日本',
  '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$' || md5(g::text), (ARRAY['admin','manager','executive'])[1 + g % 3],
  1 + g % ${n.roles}, ${
    org("g")
  }, CASE WHEN g > ${n.organizations} THEN 1 + g % ${n.organizations} END, g = 1,
  g <= ${n.organizations}, g % 50 <> 0, g % 4 <> 0, false, ${ts("g")},
  CASE WHEN g % 2 = 0 THEN ${ts("g * 3")} END, ${ts("g")}, ${ts("g + 1")}
FROM generate_series(1, ${n.users}) g;

INSERT INTO user_modules (organization_id, user_id, module, created_at)
SELECT ${org("g")}, ${
    user("g")
  }, (ARRAY['crm','hr','sales','inventory','transport'])[1 + (g / ${n.users}) % 5], ${ts("g")}
FROM generate_series(0, ${n.user_modules - 1}) g
ON CONFLICT DO NOTHING;

INSERT INTO user_permissions (organization_id, user_id, permission, created_at)
SELECT ${org("g")}, ${
    user("g")
  }, (ARRAY['crm_leads_read','crm_leads_create','hr_employees_read'])[1 + (g / ${n.users}) % 3],
  ${ts("g")}
FROM generate_series(0, ${n.user_permissions - 1}) g
ON CONFLICT DO NOTHING;

INSERT INTO crm_leads (organization_id, owner_id, created_at, updated_at, name, email, company, status, source, value_cents)
SELECT ${org("g")}, ${user("g")}, ${ts("g")}, ${ts("g + 600")}, 'Lead ' || g || ' – Müller & Söhne',
  CASE WHEN g % 7 <> 0 THEN 'lead' || g || '@customer.example' END, 'Company ' || (g % 5000) || ' GmbH',
  (ARRAY['new','contacted','qualified','lost','won'])[1 + g % 5], (ARRAY['web','referral','event',NULL])[1 + g % 4],
  (g::bigint * 7919) % 100000000000
FROM generate_series(1, ${n.crm_leads}) g;

INSERT INTO service_tickets (organization_id, owner_id, created_at, updated_at, ticket_number, subject, priority, status,
  customer_email)
SELECT ${org("g")}, ${user("g")}, ${ts("g")}, ${ts("g + 120")}, 'T-' || lpad(g::text, 8, '0'),
  'Printer on floor ' || (g % 12) || ' says "PC LOAD LETTER" — again', (ARRAY['low','normal','high','urgent'])[1 + g % 4],
  (ARRAY['open','pending','closed'])[1 + g % 3], CASE WHEN g % 3 <> 0 THEN 'c' || g || '@mail.example' END
FROM generate_series(1, ${n.service_tickets}) g;

INSERT INTO manufacturing_orders (organization_id, owner_id, created_at, updated_at, order_number, product, quantity, status,
  due_date)
SELECT ${org("g")}, ${user("g")}, ${ts("g")}, ${
    ts("g")
  }, 'MO-' || g, 'Widget model ' || (g % 300), 1 + g % 1000,
  (ARRAY['planned','in_progress','done'])[1 + g % 3], CASE WHEN g % 4 <> 0 THEN ${ts("g + 86400")} END
FROM generate_series(1, ${n.manufacturing_orders}) g;

INSERT INTO hr_employees (organization_id, owner_id, created_at, updated_at, employee_number, full_name, department, position,
  hired_at, salary_cents)
SELECT ${org("g")}, ${user("g")}, ${ts("g")}, ${ts("g")}, 'E-' || g, 'Employee Zoë ' || g,
  (ARRAY['R&D','Sales','Ops','HR'])[1 + g % 4], (ARRAY['Engineer','Manager','Analyst'])[1 + g % 3], ${
    ts("g")
  },
  CASE WHEN g % 9 <> 0 THEN 3000000 + (g % 500) * 10000 END
FROM generate_series(1, ${n.hr_employees}) g;

INSERT INTO assets (organization_id, owner_id, created_at, updated_at, asset_tag, name, category, status, purchase_value_cents)
SELECT ${org("g")}, ${user("g")}, ${ts("g")}, ${
    ts("g")
  }, 'A-' || g, 'Laptop ' || g, (ARRAY['it','furniture','vehicle'])[1 + g % 3],
  (ARRAY['in_service','retired'])[1 + g % 2], CASE WHEN g % 5 <> 0 THEN 100000 + g END
FROM generate_series(1, ${n.assets}) g;

INSERT INTO marketing_campaigns (organization_id, owner_id, created_at, updated_at, name, channel, status, budget_cents,
  starts_at, ends_at)
SELECT ${org("g")}, ${user("g")}, ${ts("g")}, ${
    ts("g")
  }, 'Campaign ' || g, (ARRAY['email','social','search'])[1 + g % 3],
  (ARRAY['draft','running','ended'])[1 + g % 3], g * 1000, ${ts("g")}, CASE WHEN g % 2 = 0 THEN ${
    ts("g + 100000")
  } END
FROM generate_series(1, ${n.marketing_campaigns}) g;

INSERT INTO transport_vehicles (organization_id, owner_id, created_at, updated_at, plate_number, model, capacity_kg, status)
SELECT ${org("g")}, ${user("g")}, ${ts("g")}, ${ts("g")}, 'ZH-' || g, 'Van ' || (g % 20), 500 + g % 3000,
  (ARRAY['available','on_trip','maintenance'])[1 + g % 3]
FROM generate_series(1, ${n.transport_vehicles}) g;

INSERT INTO transport_trips (organization_id, owner_id, created_at, updated_at, trip_number, vehicle_id, origin, destination,
  distance_km, status, departed_at)
SELECT ${org("g")}, ${user("g")}, ${ts("g")}, ${
    ts("g")
  }, 'TR-' || g, CASE WHEN g % 10 <> 0 THEN 1 + g % ${n.transport_vehicles} END,
  'Zürich', 'Genève', 1 + g % 900, (ARRAY['scheduled','underway','done'])[1 + g % 3],
  CASE WHEN g % 3 = 0 THEN ${ts("g")} END
FROM generate_series(1, ${n.transport_trips}) g;

INSERT INTO files (organization_id, owner_id, created_at, updated_at, name, s3_key, size_bytes, content_type, sha256, metadata)
SELECT ${org("g")}, ${user("g")}, ${ts("g")}, ${
    ts("g")
  }, 'report-' || g || '.pdf', 'files/org-' || (1 + g % ${n.organizations}) || '/' || g,
  (g::bigint * 104729) % 50000000000, 'application/pdf', encode(sha256(g::text::bytea), 'hex'),
  jsonb_build_object('author', 'Zoë', 'pages', (g % 90)::text)
FROM generate_series(1, ${n.files}) g;
`;
}
