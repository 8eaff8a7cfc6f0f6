// Runnable README example: `pnpm exec tsx example.ts` in packages/graph-emulator.
import { startEmulator } from "@meeting-artifacts/graph-emulator"

const emu = await startEmulator({ generate: { organizers: 1, meetingsPerOrganizer: 3, seed: 7 }, faults: "none" })
const organizer = emu.fixture.users[0]!.id
const url = `${emu.baseUrl}/users/${organizer}/onlineMeetings/` +
  `getAllRecordings(meetingOrganizerUserId='${organizer}',startDateTime=2024-01-01T00:00:00Z)`
const page = await (await fetch(url, { headers: { authorization: `Bearer ${emu.accessToken}` } })).json()
console.log(page.value.map((r: { id: string }) => r.id), emu.counters().byRoute)
await emu.close()
