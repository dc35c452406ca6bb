import Foundation
import Testing
import TrainyardCore

/// Spec documents written to hurt the reader: YAML features a spec never needs are refused before
/// anything is built from them, and the refusal names the field and the feature.
@Suite("Hostile spec documents")
struct HostileSpecDocumentTests {
    static let base = "apiVersion: trainyard/v1\nname: n\nteam: t\ncommand: [\"true\"]\n"

    /// The violations of `text`, or nil when it is accepted.
    static func violations(_ text: String) -> [SpecViolation]? {
        do {
            _ = try JobSpecParser.parse(Data(text.utf8))
            return nil
        } catch {
            return error.violations
        }
    }

    /// Ten copies of the previous level, `levels` deep, under an unknown key: 10^levels nodes once expanded.
    static func aliasBomb(levels: Int) -> String {
        var text = "x-junk:\n  l0: &l0 [\"aaaaaaaaaa\"]\n"
        for level in 1...levels {
            text += "  l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ",") + "]\n"
        }
        return base + text
    }

    @Test(
        "anchors, aliases, merge keys and tags are refused, naming the field and the feature",
        arguments: [
            ("labels: &shared {stage: one}\nhyperparameters: *shared\n", "labels", "anchor"),
            ("env: {A: &a x, B: *a}\n", "env.A", "anchor"),
            ("hyperparameters:\n  <<: {lr: \"0.1\"}\n", "hyperparameters.<<", "merge key"),
            ("labels: !!map {a: b}\n", "labels", "tag"),
            ("image: !custom python\n", "image", "tag"),
            ("env: {A: !!str 5}\n", "env.A", "tag"),
        ])
    func refusedFeatures(extra: String, field: String, feature: String) throws {
        let found = try #require(Self.violations(Self.base + extra), "accepted:\n\(extra)")
        #expect(found.count == 1)
        #expect(found.first?.field == field)
        #expect(found.first?.message.contains(feature) == true, "\(found)")
    }

    @Test("the alias bomb of issue 13 is refused at its first anchor, whatever its depth")
    func aliasBomb() throws {
        for levels in [1, 6, 9] {
            let found = try #require(Self.violations(Self.aliasBomb(levels: levels)))
            #expect(
                found == [
                    SpecViolation(
                        field: "x-junk.l0", message: "has a YAML anchor (&l0); anchors and aliases are not accepted in a job spec (line 6, column 7)")
                ])
        }
    }

    @Test("an alias to an undefined anchor, an alias as a key, a second document, duplicate keys, keys that are not text")
    func otherStructures() throws {
        #expect(try #require(Self.violations(Self.base + "labels: *nowhere\n")).first?.message.contains("alias") == true)
        #expect(try #require(Self.violations(Self.base + "labels: {*k : v}\n")).first?.message.contains("alias") == true)
        #expect(try #require(Self.violations(Self.base + "---\n" + Self.base)).first?.message.contains("more than one YAML document") == true)
        #expect(
            try #require(Self.violations(Self.base + "labels: {a: b, a: c}\n")).first
                == SpecViolation(field: "labels.a", message: "is given twice (line 5, column 16)"))
        #expect(try #require(Self.violations(Self.base + "labels: {[a]: b}\n")).first?.message.contains("key that is not text") == true)
        #expect(try #require(Self.violations("")).first?.message.contains("empty") == true)
        #expect(try #require(Self.violations("# only a comment\n")).first?.message.contains("empty") == true)
    }

    @Test("nesting is bounded before the tree is built: 10,000 open brackets are one violation")
    func deepNesting() throws {
        let deep = Self.base + "labels: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n"
        let found = try #require(Self.violations(deep))
        // libyaml's own limit on flow collections may speak first; either way, one violation.
        #expect(found.count == 1 && found.first?.message.contains("nest") == true, "\(found)")
        let block = Self.base + "labels:\n" + (1...100).map { String(repeating: " ", count: $0) + "-\n" }.joined()
        #expect(try #require(Self.violations(block)).first?.message.contains("nested more than 32 levels") == true)
        let deepJSON =
            #"{"apiVersion":"trainyard/v1","name":"n","team":"t","command":["true"],"labels":"# + String(repeating: "[", count: 10_000)
            + String(repeating: "]", count: 10_000) + "}"
        #expect(try #require(Self.violations(deepJSON)).count == 1)
    }

    @Test("text that only looks like YAML syntax stays text: & and * inside values, quoted <<")
    func lookalikes() throws {
        let text =
            Self.base
            + "args: [\"ls *.txt && echo done\", a&b, x*y, 'c &d', \"*e\"]\nenv: {STAR: '*', AMP: '&'}\n"
            + "hyperparameters:\n  \"<<\": merge\n  script: |\n    echo *\n    sleep 1 &\n"
        let spec = try JobSpecParser.parse(Data(text.utf8), unknownFields: .refused)
        #expect(spec.args == ["ls *.txt && echo done", "a&b", "x*y", "c &d", "*e"])
        #expect(spec.env == ["STAR": "*", "AMP": "&"])
        #expect(spec.hyperparameters == ["<<": "merge", "script": "echo *\nsleep 1 &\n"])
    }

    @Test("unknown fields are reported from the same single read, next to validation problems")
    func unknownFieldsInOneRead() throws {
        let text = Self.base + "maxRuntime: 5\nresources: {cpu: -1, cpus: 2}\n"
        do {
            _ = try JobSpecParser.parse(Data(text.utf8), unknownFields: .refused)
            Issue.record("accepted")
        } catch {
            #expect(Set(error.violations.map(\.field)) == ["maxRuntime", "resources.cpus", "resources.cpu"])
        }
        #expect(try JobSpecParser.parse(Data(text.replacingOccurrences(of: "cpu: -1, ", with: "").utf8)).name == "n")
    }
}
