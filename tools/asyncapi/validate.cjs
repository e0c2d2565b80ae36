// Validates an AsyncAPI document with the official parser: the spec's JSON Schema and the
// parser's own rules (references resolve, ids are unique, operations name their channel's
// messages...). Prints every finding; exits 1 on any error or warning, so a document the
// catalogue's readers would be warned about never lands.
//   NODE_PATH=<installed node_modules> node validate.cjs FILE   (scripts/asyncapi-tools.sh validate)
const fs = require("node:fs");
const { Parser, DiagnosticSeverity } = require("@asyncapi/parser");

async function main(file) {
  if (!file) {
    console.error("usage: validate.cjs FILE");
    return 2;
  }
  const source = fs.readFileSync(file, "utf8");
  const diagnostics = await new Parser().validate(source, { source: file });
  const names = { [DiagnosticSeverity.Error]: "error", [DiagnosticSeverity.Warning]: "warning" };
  let failing = 0;
  for (const d of diagnostics) {
    const severity = names[d.severity] ?? "info";
    if (severity !== "info") failing += 1;
    const where = d.path.length ? d.path.join(".") : "(document)";
    console.log(`${file}:${d.range.start.line + 1}: ${severity} ${d.code}: ${d.message} at ${where}`);
  }
  if (failing) {
    console.log(`${file}: ${failing} error(s) or warning(s): not a valid AsyncAPI document`);
    return 1;
  }
  console.log(`${file}: valid AsyncAPI document`);
  return 0;
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
