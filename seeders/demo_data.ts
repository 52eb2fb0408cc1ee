/**
 * The demo data set (seed 000): Test Corp and a second organization, each
 * with an admin, a manager and an executive, and a little data in every
 * module, owned by those users so that record scope (own / team / all) shows.
 */
import type { ModuleFlags } from "../src/db/schema.ts";

export const DEMO_PASSWORD = "password123";

export interface DemoOrg {
  slug: string;
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
  },
  {
    slug: "globex",
    name: "Globex Corporation",
    licenseTier: "professional",
    enabledModules: { MANUFACTURING: true, RESTAURANTS: true, MENUS: true },
    trialDays: {},
  },
];

export type DemoRole = "admin" | "manager" | "executive";

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

type Owner = { owner: DemoRole };

/** Per-organization module rows; `owner` names which demo user owns the row. */
export interface DemoModuleRows {
  leads: (Owner & {
    name: string;
    company: string;
    email: string;
    status: string;
    source: string;
    valueCents: number;
  })[];
  employees: (Owner & { employeeNumber: string; fullName: string; department: string; position: string })[];
  campaigns: (Owner & { name: string; channel: string; status: string; budgetCents: number })[];
  tickets: (Owner & { ticketNumber: string; subject: string; priority: string; status: string })[];
  assets: (Owner & { assetTag: string; name: string; category: string; purchaseValueCents: number })[];
  vehicles: (Owner & { plateNumber: string; model: string; capacityKg: number })[];
  trips: (Owner & {
    tripNumber: string;
    plateNumber: string;
    origin: string;
    destination: string;
    distanceKm: number;
  })[];
  orders: (Owner & { orderNumber: string; product: string; quantity: number; status: string })[];
}

function rowsFor(prefix: string, companies: string[], city: string): DemoModuleRows {
  const [c1, c2, c3, c4, c5] = companies;
  return {
    leads: [
      {
        owner: "executive",
        name: `${c1} — bulk order`,
        company: c1,
        email: `buyer@${slug(c1)}.example`,
        status: "new",
        source: "website",
        valueCents: 1_250_000,
      },
      {
        owner: "executive",
        name: `${c2} — catering`,
        company: c2,
        email: `events@${slug(c2)}.example`,
        status: "contacted",
        source: "referral",
        valueCents: 480_000,
      },
      {
        owner: "manager",
        name: `${c3} — partnership`,
        company: c3,
        email: `hello@${slug(c3)}.example`,
        status: "qualified",
        source: "trade show",
        valueCents: 2_900_000,
      },
      {
        owner: "manager",
        name: `${c4} — renewal`,
        company: c4,
        email: `ops@${slug(c4)}.example`,
        status: "proposal",
        source: "existing customer",
        valueCents: 760_000,
      },
      {
        owner: "admin",
        name: `${c5} — enterprise deal`,
        company: c5,
        email: `cto@${slug(c5)}.example`,
        status: "won",
        source: "outbound",
        valueCents: 5_400_000,
      },
    ],
    employees: [
      {
        owner: "admin",
        employeeNumber: `${prefix}-EMP-0001`,
        fullName: "Priya Raman",
        department: "Operations",
        position: "Operations Lead",
      },
      {
        owner: "admin",
        employeeNumber: `${prefix}-EMP-0002`,
        fullName: "Tomás Ortega",
        department: "Sales",
        position: "Account Executive",
      },
      {
        owner: "manager",
        employeeNumber: `${prefix}-EMP-0003`,
        fullName: "Mei Chen",
        department: "Support",
        position: "Support Engineer",
      },
      {
        owner: "manager",
        employeeNumber: `${prefix}-EMP-0004`,
        fullName: "Jonas Berg",
        department: "Logistics",
        position: "Fleet Coordinator",
      },
    ],
    campaigns: [
      {
        owner: "manager",
        name: "Spring menu launch",
        channel: "email",
        status: "active",
        budgetCents: 250_000,
      },
      {
        owner: "executive",
        name: "Local radio spots",
        channel: "radio",
        status: "draft",
        budgetCents: 120_000,
      },
      {
        owner: "admin",
        name: "Loyalty relaunch",
        channel: "social",
        status: "completed",
        budgetCents: 400_000,
      },
    ],
    tickets: [
      {
        owner: "executive",
        ticketNumber: `${prefix}-TCK-0001`,
        subject: "Late delivery to downtown store",
        priority: "high",
        status: "open",
      },
      {
        owner: "executive",
        ticketNumber: `${prefix}-TCK-0002`,
        subject: "Invoice shows wrong VAT",
        priority: "normal",
        status: "in_progress",
      },
      {
        owner: "manager",
        ticketNumber: `${prefix}-TCK-0003`,
        subject: "Refrigeration unit alarm",
        priority: "urgent",
        status: "open",
      },
      {
        owner: "admin",
        ticketNumber: `${prefix}-TCK-0004`,
        subject: "Access request for new hire",
        priority: "low",
        status: "closed",
      },
    ],
    assets: [
      {
        owner: "admin",
        assetTag: `${prefix}-AST-0001`,
        name: "Walk-in freezer",
        category: "equipment",
        purchaseValueCents: 1_800_000,
      },
      {
        owner: "manager",
        assetTag: `${prefix}-AST-0002`,
        name: "Delivery tablet",
        category: "electronics",
        purchaseValueCents: 45_000,
      },
      {
        owner: "executive",
        assetTag: `${prefix}-AST-0003`,
        name: "Laptop",
        category: "electronics",
        purchaseValueCents: 160_000,
      },
    ],
    vehicles: [
      { owner: "manager", plateNumber: `${prefix}-VAN-01`, model: "Ford Transit", capacityKg: 1_400 },
      { owner: "manager", plateNumber: `${prefix}-TRK-02`, model: "Isuzu NPR", capacityKg: 4_500 },
    ],
    trips: [
      {
        owner: "manager",
        tripNumber: `${prefix}-TRP-0001`,
        plateNumber: `${prefix}-VAN-01`,
        origin: `${city} depot`,
        destination: `${city} downtown`,
        distanceKm: 18,
      },
      {
        owner: "executive",
        tripNumber: `${prefix}-TRP-0002`,
        plateNumber: `${prefix}-TRK-02`,
        origin: `${city} depot`,
        destination: "Regional hub",
        distanceKm: 142,
      },
      {
        owner: "executive",
        tripNumber: `${prefix}-TRP-0003`,
        plateNumber: `${prefix}-VAN-01`,
        origin: "Regional hub",
        destination: `${city} airport`,
        distanceKm: 57,
      },
    ],
    orders: [
      {
        owner: "manager",
        orderNumber: `${prefix}-MO-0001`,
        product: "Frozen dough (pallet)",
        quantity: 40,
        status: "planned",
      },
      {
        owner: "admin",
        orderNumber: `${prefix}-MO-0002`,
        product: "Sauce base (drum)",
        quantity: 12,
        status: "in_progress",
      },
    ],
  };
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

export const DEMO_MODULE_ROWS: Record<string, DemoModuleRows> = {
  "test-corp": rowsFor("TC", [
    "Acme Foods",
    "Northwind Traders",
    "Blue Harbor Catering",
    "Sunrise Bakery",
    "Metro Diner Group",
  ], "Springfield"),
  "globex": rowsFor("GX", [
    "Initech",
    "Umbrella Grocers",
    "Stark Kitchens",
    "Wayne Provisions",
    "Cyberdyne Cafés",
  ], "Shelbyville"),
};
