/**
 * The demo data set (seed 000): Test Corp and a second organization, each
 * with an admin, a manager and an executive. The modules' demo records are
 * declared by the modules themselves (`demo` in `modules/<key>.ts`), owned by
 * these users so that record scope (own / team / all) shows, and written by
 * DemoModuleDataSeeder for each organization below.
 */
import type { ModuleFlags } from "../src/db/schema.ts";
import type { DemoOrganization, DemoOwner } from "../src/modules/define.ts";

export const DEMO_PASSWORD = "password123";

/** A demo organization; `prefix`, `companies` and `city` parameterize its modules' demo records. */
export interface DemoOrg extends DemoOrganization {
  name: string;
  licenseTier: string;
  /** Uppercase keys as seed 000 writes them (normalized to lowercase when read). */
  enabledModules: ModuleFlags;
  /** Module → trial length in days, counted from creation. */
  trialDays: Record<string, number>;
}

/**
 * Test Corp is on Starter (CRM, sales, inventory) with overrides for the
 * other demo modules, and NOT manufacturing: seed 000's check answers 200 on
 * /crm/leads and 403 on /manufacturing/orders. Globex is on Professional with
 * manufacturing turned on.
 */
export const DEMO_ORGS: DemoOrg[] = [
  {
    slug: "test-corp",
    name: "Test Corp",
    licenseTier: "starter",
    enabledModules: {
      CRM: true,
      HR: true,
      MARKETING: true,
      SERVICE: true,
      ASSET: true,
      TRANSPORT: true,
      RESTAURANTS: true,
      MENUS: true,
    },
    trialDays: { finance: 14 },
    prefix: "TC",
    companies: [
      "Acme Foods",
      "Northwind Traders",
      "Blue Harbor Catering",
      "Sunrise Bakery",
      "Metro Diner Group",
    ],
    city: "Springfield",
  },
  {
    slug: "globex",
    name: "Globex Corporation",
    licenseTier: "professional",
    enabledModules: { MANUFACTURING: true, RESTAURANTS: true, MENUS: true },
    trialDays: {},
    prefix: "GX",
    companies: ["Initech", "Umbrella Grocers", "Stark Kitchens", "Wayne Provisions", "Cyberdyne Cafés"],
    city: "Shelbyville",
  },
];

export type DemoRole = DemoOwner;

export interface DemoUser {
  org: string;
  key: DemoRole;
  email: string;
  fullName: string;
  /** Modules assigned (user_modules). */
  modules: string[];
  /** Submodule permissions (user_permissions). */
  permissions: string[];
}

export const DEMO_USERS: DemoUser[] = [
  {
    org: "test-corp",
    key: "admin",
    email: "admin@testcorp.com",
    fullName: "Ada Admin",
    modules: [],
    permissions: [],
  },
  {
    org: "test-corp",
    key: "manager",
    email: "manager@testcorp.com",
    fullName: "Morgan Manager",
    modules: ["crm", "sales"],
    permissions: [],
  },
  {
    org: "test-corp",
    key: "executive",
    email: "executive@testcorp.com",
    fullName: "Evan Executive",
    modules: [],
    permissions: ["crm_leads_read", "crm_leads_create"],
  },
  {
    org: "globex",
    key: "admin",
    email: "admin@globex.com",
    fullName: "Grace Admin",
    modules: [],
    permissions: [],
  },
  {
    org: "globex",
    key: "manager",
    email: "manager@globex.com",
    fullName: "Gus Manager",
    modules: ["crm", "manufacturing", "hr"],
    permissions: [],
  },
  {
    org: "globex",
    key: "executive",
    email: "executive@globex.com",
    fullName: "Gina Executive",
    modules: [],
    permissions: ["crm_leads_read", "crm_leads_create"],
  },
];
