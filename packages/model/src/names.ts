/**
 * People found however their names are typed: "Müller" by "müller", "Mueller" and "Muller"; "Weiß" by "weiss" and
 * "weis"; "Müßig" by "muessig" and "mussig"; accents of other languages (é, ç) by their base letters. Shared by the
 * web app's searches and the relay's school directory.
 */

const GERMAN: Record<string, string> = { ä: 'ae', ö: 'oe', ü: 'ue', ß: 'ss' };

/** Lower case with umlauts and ß spelled out (ä → ae, ß → ss), then other accents dropped. */
export function foldGerman(text: string): string {
  return stripMarks(text.toLocaleLowerCase('de').replace(/[äöüß]/g, (c) => GERMAN[c]!));
}

/** Lower case with every accent dropped (ä → a; ß → ss): how someone types who leaves the dots out. */
export function foldPlain(text: string): string {
  return stripMarks(text.toLocaleLowerCase('de').replace(/ß/g, 'ss'));
}

function stripMarks(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '');
}

/** Does `name` match what was typed? Every word of the query must start a word of the name (in either spelling). */
export function matchesName(name: string, query: string): boolean {
  const words = query.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const forms = [foldGerman(name), foldPlain(name)].map((f) => f.split(/[\s\-'.]+/).filter(Boolean));
  return words.every((w) => {
    const typed = [foldGerman(w), foldPlain(w)];
    return forms.some((parts) => parts.some((part) => typed.some((t) => part.startsWith(t))));
  });
}
