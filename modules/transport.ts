/** Transport (seed 000): vehicles and trips (a trip references a vehicle), read-only over the API. */
import {
  defineModule,
  demoRef,
  enumOf,
  integer,
  ref,
  serial,
  text,
  timestamp,
} from "../src/modules/define.ts";

const CITIES = ["Springfield", "Shelbyville", "Ogdenville", "Capital City", "North Haverbrook", "Brockway"];
const MODELS = ["Ford Transit", "Mercedes Sprinter", "Isuzu NPR", "Renault Master", "Fiat Ducato"];
const DAY = 86_400_000;
const EPOCH = Date.UTC(2024, 0, 1);

export default defineModule({
  key: "transport",
  description: "Transport and logistics",
  licensing: { tiers: ["professional", "enterprise"] },
  resources: {
    vehicles: {
      table: "transport_vehicles",
      type: "transport_vehicle",
      noun: "vehicle",
      schemaName: "Vehicle",
      readOnly: true,
      fields: {
        plateNumber: text().notNull().max(32),
        model: text().notNull().max(200),
        capacityKg: integer().notNull().min(0).max(1_000_000),
        status: enumOf(["available", "on_trip", "maintenance"]).notNull().default("available"),
      },
      unique: [{ columns: ["plateNumber"], name: "transport_vehicles_org_plate_uq" }],
      demo: ({ prefix }) => [
        { owner: "manager", plateNumber: `${prefix}-VAN-01`, model: "Ford Transit", capacityKg: 1_400 },
        { owner: "manager", plateNumber: `${prefix}-TRK-02`, model: "Isuzu NPR", capacityKg: 4_500 },
      ],
      volume: (i, { r }) => ({
        plateNumber: `VOL-${serial(i)}`,
        model: r.pick(MODELS),
        capacityKg: r.int(500, 8_000),
        status: r.pick(["available", "on_trip", "maintenance"]),
      }),
    },
    trips: {
      table: "transport_trips",
      type: "transport_trip",
      noun: "trip",
      schemaName: "Trip",
      readOnly: true,
      fields: {
        tripNumber: text().notNull().max(64),
        vehicleId: ref("transport_vehicles", "set null"),
        origin: text().notNull().max(200),
        destination: text().notNull().max(200),
        distanceKm: integer().notNull().min(0).max(100_000),
        status: enumOf(["scheduled", "in_transit", "delivered"]).notNull().default("scheduled"),
        departedAt: timestamp(),
      },
      unique: [{ columns: ["tripNumber"], name: "transport_trips_org_number_uq" }],
      demo: ({ prefix, city }) => {
        const vehicle = (plate: string) =>
          demoRef("transport_vehicles", { plateNumber: `${prefix}-${plate}` });
        return [
          {
            owner: "manager",
            tripNumber: `${prefix}-TRP-0001`,
            vehicleId: vehicle("VAN-01"),
            origin: `${city} depot`,
            destination: `${city} downtown`,
            distanceKm: 18,
          },
          {
            owner: "executive",
            tripNumber: `${prefix}-TRP-0002`,
            vehicleId: vehicle("TRK-02"),
            origin: `${city} depot`,
            destination: "Regional hub",
            distanceKm: 142,
          },
          {
            owner: "executive",
            tripNumber: `${prefix}-TRP-0003`,
            vehicleId: vehicle("VAN-01"),
            origin: "Regional hub",
            destination: `${city} airport`,
            distanceKm: 57,
          },
        ];
      },
      volume: (i, { r, refs }) => {
        const fleet = refs("transport_vehicles");
        return {
          tripNumber: `VOL-TRP-${serial(i)}`,
          vehicleId: fleet.length ? r.pick(fleet) : null,
          origin: r.pick(CITIES),
          destination: r.pick(CITIES),
          distanceKm: r.int(2, 900),
          status: r.pick(["scheduled", "in_transit", "delivered"]),
          departedAt: new Date(EPOCH + r.int(0, 365) * DAY),
        };
      },
    },
  },
});
