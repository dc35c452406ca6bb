import Testing
import TrainyardBackends

@testable import TrainyardAPI

@Suite("Log query parameters and tails")
struct LogParametersTests {
    @Test("defaults: latest attempt, stdout, everything, no follow; unknown parameters ignored")
    func defaults() throws {
        let parameters = try LogParameters([("other", "x")])
        #expect(parameters.attempt == nil && parameters.tail == nil && !parameters.follow && parameters.streams == .stdout)
    }

    @Test("every option parses")
    func options() throws {
        let parameters = try LogParameters([("attempt", "2"), ("follow", "true"), ("tail", "0"), ("all", "TRUE")])
        #expect(parameters.attempt == 2 && parameters.follow && parameters.tail == 0 && parameters.streams == .all)
        #expect(try LogParameters([("stderr", "true"), ("all", "false")]).streams == .stderr)
    }

    @Test(
        "bad values are one 400 naming each field",
        arguments: [
            [("attempt", "0")], [("attempt", "11")], [("tail", "-1")], [("tail", "x")], [("follow", "yes")], [("stderr", "true"), ("all", "true")],
            [("tail", "1"), ("tail", "2")],
        ])
    func refused(_ pairs: [(String, String)]) {
        #expect(throws: APIError.self) { try LogParameters(pairs.map { (name: $0.0, value: $0.1) }) }
    }

    @Test("lastLines keeps the last N lines, with or without a final line end")
    func tails() {
        #expect(lastLines(of: "a\nb\nc\n", count: 2) == "b\nc\n")
        #expect(lastLines(of: "a\nb\nc", count: 2) == "b\nc")
        #expect(lastLines(of: "a\nb\n", count: 5) == "a\nb\n")
        #expect(lastLines(of: "a\nb\n", count: 0) == "")
        #expect(lastLines(of: "", count: 3) == "")
        #expect(lastLines(of: "\n\n", count: 1) == "\n")
    }
}
