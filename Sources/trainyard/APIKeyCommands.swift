import ArgumentParser
import Foundation
import TrainyardAPI

/// `trainyard api-key create --name N (--team T | --admin) [--file PATH]`
struct APIKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api-key", abstract: "Manage the HTTP API's keys.", subcommands: [Create.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Generate a key, add its SHA-256 to the key file (mode 0600) and print the key once on stdout.")

        @Option(help: "A name for the key (shown in the aggregator's logs, never the key).")
        var name: String

        @Option(help: "The team the key acts for (it sees and cancels only that team's jobs).")
        var team: String?

        @Flag(help: "An admin key: every team's jobs.")
        var admin = false

        @Option(help: "Key file (default: env TRAINYARD_API_KEYS, else <home>/api-keys.yaml).")
        var file: String?

        func validate() throws {
            guard (team != nil) != admin else { throw ValidationError("give exactly one of --team TEAM or --admin") }
            if let team, team.isEmpty { throw ValidationError("--team is empty") }
            guard !name.isEmpty else { throw ValidationError("--name is empty") }
        }

        func run() throws {
            let environment = ProcessInfo.processInfo.environment
            let home = environment["TRAINYARD_HOME"] ?? (NSHomeDirectory() + "/.trainyard")
            let path = file ?? environment["TRAINYARD_API_KEYS"] ?? "\(home)/api-keys.yaml"
            let key = APIKeyFile.generateKey()
            do {
                try APIKeyFile.append(key: key, name: name, team: team, to: path)
            } catch {
                throw ValidationError("\(error)")
            }
            printError("added key \(name) (\(team.map { "team \($0)" } ?? "admin")) to \(path)")
            print(key)
        }
    }
}
