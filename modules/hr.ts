/** HR (seed 000): employees, read-only over the API; Professional and up. */
import { defineModule, DemoOwner, money, serial, text, timestamp } from "../src/modules/define.ts";

const FIRST = [
  "Ava",
  "Liam",
  "Noah",
  "Emma",
  "Olivia",
  "Mateo",
  "Sofia",
  "Yuki",
  "Amara",
  "Ravi",
  "Lena",
  "Omar",
];
const LAST = [
  "Smith",
  "Garcia",
  "Chen",
  "Okafor",
  "Müller",
  "Rossi",
  "Kowalski",
  "Silva",
  "Nguyen",
  "Haddad",
];
const DEPARTMENTS = ["Operations", "Sales", "Support", "Logistics", "Finance", "Kitchen", "Marketing"];
const POSITIONS = ["Associate", "Specialist", "Coordinator", "Lead", "Supervisor", "Analyst"];
const DAY = 86_400_000;
const EPOCH = Date.UTC(2024, 0, 1);

export default defineModule({
  key: "hr",
  description: "Human resources",
  licensing: { tiers: ["professional", "enterprise"] },
  resources: {
    employees: {
      table: "hr_employees",
      type: "hr_employee",
      noun: "employee",
      schemaName: "Employee",
      readOnly: true,
      fields: {
        employeeNumber: text().notNull().max(64),
        fullName: text().notNull().max(200),
        department: text().notNull().max(200),
        position: text().notNull().max(200),
        hiredAt: timestamp(),
        salaryCents: money(),
      },
      unique: [{ columns: ["employeeNumber"], name: "hr_employees_org_number_uq" }],
      demo: ({ prefix }) =>
        [
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
        ].map((e) => ({ ...e, owner: e.owner as DemoOwner, hiredAt: new Date("2023-03-01T00:00:00Z") })),
      volume: (i, { r }) => ({
        employeeNumber: `VOL-EMP-${serial(i)}`,
        fullName: `${r.pick(FIRST)} ${r.pick(LAST)}`,
        department: r.pick(DEPARTMENTS),
        position: r.pick(POSITIONS),
        hiredAt: new Date(EPOCH + r.int(0, 1500) * DAY),
        salaryCents: r.int(3_000_000, 15_000_000),
      }),
    },
  },
});
