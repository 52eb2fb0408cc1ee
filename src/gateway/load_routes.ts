/**
 * Reads the forward-auth route table at startup: the FORWARD_AUTH_ROUTES file
 * when set (a bad file stops the server with the entry and the problem named),
 * Seedbed's own routes otherwise. Story: docs/gateway.md ("The route table").
 */
import { defaultRouteTable } from "./default_routes.ts";
import { parseRouteTable, type RouteEntry, RouteTableError } from "./route_table.ts";

export async function loadRouteTable(file: string | undefined): Promise<RouteEntry[]> {
  if (!file) return defaultRouteTable();
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new RouteTableError(`FORWARD_AUTH_ROUTES: cannot read ${file} (${(err as Error).message})`);
  }
  return parseRouteTable(text, defaultRouteTable, `FORWARD_AUTH_ROUTES ${file}`);
}
