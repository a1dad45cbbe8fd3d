// A generated corpus of long, markup-heavy articles for the over-long end-to-end scenario: the real
// core answers from it with ten excerpts of up to 600 characters, more than one Discord message holds.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const BLADE_FACTS = [
  "Drone surveys of the turbine blades at the *northern* array found hairline cracks near the root of eleven blades",
  "Technicians abseiling down the turbine blades measured leading-edge erosion deeper than the _manufacturer_ allows",
  "Lightning receptors on several turbine blades had melted, according to the ||confidential|| maintenance log",
  "Ultrasound scans showed delamination inside three turbine blades that had passed visual checks in spring",
  "Salt crusts on the turbine blades reduced output by a measurable margin during the calm weeks of August",
  "Replacement turbine blades arrived by barge from Esbjerg, but cranes could not lift them in gusty weather",
  "An insurer asked @everyone involved for photographs of every damaged turbine blade before approving repairs",
  "Thermal cameras revealed hot spots along bonded seams of turbine blades that ran at full load overnight",
  "The union said crews inspecting turbine blades at height needed longer rest breaks and better harnesses",
  "Coating trials on turbine blades compared three polyurethane tapes against a ~~cheaper~~ sprayed resin",
  "Acoustic sensors fitted inside turbine blades picked up clicking noises hours before a tip cracked open",
  "Regulators asked <@&123456789012345678> operators to report every turbine blade failure within two days",
];

const FILLERS = [
  "Fishing crews in the harbour reported calm seas and brisk trade at the early market",
  "The regional council argued about parking fees near the old railway station",
  "Local bakers said flour prices had risen, and several cafés shortened their winter hours",
  "A choir from the island gave a concert in the church, raising money for the lifeboat",
  "Schools closed for a day when heavy snow blocked the coastal road to the ferry terminal",
  "The museum opened an exhibition of nineteenth-century maps of shipwrecks along the coast",
  "Farmers complained that geese from the marshes were eating the newly sown winter wheat",
  "A new bus timetable added an evening service between the villages and the market town",
  "Volunteers cleared plastic from the dunes after the autumn storms had passed through",
];

/** Writes three long articles (titles near Discord's 256 limit, markdown and mentions in the text); returns the folder. */
export function writeLongCorpus(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "citebot-long-corpus-"));
  for (let a = 0; a < 3; a++) {
    const sentences: string[] = [];
    BLADE_FACTS.forEach((fact, i) => {
      if ((i + a) % 3 !== 0) return; // four facts per article
      sentences.push(`${fact}, the report for site ${a + 1} said.`);
      for (let k = 0; k < 3; k++) sentences.push(`${FILLERS[(i + k + a) % FILLERS.length]!} that week, site ${a + 1} notes recorded.`);
    });
    const title = `Offshore wind, part ${a + 1}: ${"a very long headline about *cracks*, _drones_ and [links](https://example.com) in the North Sea ".repeat(2)}`;
    writeFileSync(
      path.join(dir, `blades-${a}.txt`),
      `---\ntitle: ${JSON.stringify(title)}\nsource: "North Sea Engineering Weekly (a publisher with a rather long name)"\ndate: 2024-0${a + 1}-15\nurl: https://example.com/blades/${a}\n---\n${sentences.join(" ")}\n`,
    );
  }
  return dir;
}
