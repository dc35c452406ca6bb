import ArgumentParser
import Foundation
import TrainyardClient
import TrainyardCore
import TrainyardKafka
import TrainyardStore

/// `trainyard submit FILE… [--wait]`
struct SubmitJobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit", abstract: "Submit job specs (YAML or JSON); prints one job id per line.")

    @OptionGroup var options: CommonOptions

    @Argument(help: "Job spec files.")
    var files: [String]

    @Flag(help: "Wait for the jobs to finish, showing state changes; exit 0 only if all succeeded.")
    var wait = false

    @Option(help: "Give up waiting after this many seconds.")
    var timeout: Double = 3600

    func run() async throws {
        var commands: [SubmitCommand] = []
        var invalid = false
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                printError("\(file): cannot read")
                invalid = true
                continue
            }
            do {
                commands.append(SubmitCommand(spec: try JobSpecParser.parse(data)))
            } catch {
                for violation in error.violations { printError("\(file): \(violation)") }
                invalid = true
            }
        }
        if invalid { throw ExitCode(2) }

        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(common: try options.kafka(clientID: "trainyard-cli")), logger: options.logger("submit"))
        let publisher = JobRequestPublisher(producer: producer, topic: options.topics.requests)
        for command in commands {
            try await publisher.publish(.submit(command))
            print(command.jobID)
        }
        await producer.close()
        guard wait else { return }
        let outcome = try await JobWaiter(databasePath: options.databasePath, timeout: timeout).wait(for: commands.map { ($0.jobID, $0.spec.name) })
        if !outcome { throw ExitCode(1) }
    }
}

/// `trainyard cancel JOB_ID`
struct CancelJob: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Ask for a job to be cancelled, whatever its state.")

    @OptionGroup var options: CommonOptions

    @Argument(help: "The job id.")
    var jobID: String

    @Option(help: "Why (recorded in the job's history).")
    var reason: String = "cancelled from the CLI"

    func run() async throws {
        guard let id = JobID(jobID) else { throw ValidationError("\"\(jobID)\" is not a job id") }
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(common: try options.kafka(clientID: "trainyard-cli")), logger: options.logger("cancel"))
        try await JobRequestPublisher(producer: producer, topic: options.topics.requests).publish(.cancel(CancelCommand(jobID: id, reason: reason)))
        await producer.close()
        print("cancel requested for \(id)")
    }
}

/// `trainyard status [JOB_ID] [--json]`
struct ShowStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show jobs (a table) or one job (its record and events), read from the store.")

    @OptionGroup var options: CommonOptions

    @Argument(help: "Show only this job, with its event history.")
    var jobID: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Only this team's jobs.")
    var team: String?

    @Option(help: "Only jobs in this state (e.g. RUNNING).")
    var state: String?

    @Option(help: "Show the newest this many jobs.")
    var limit = 1000

    func run() async throws {
        let store = try JobStore(readingAt: options.databasePath)
        let encoder = WireFormat.encoder()
        encoder.outputFormatting.insert(.prettyPrinted)
        if let jobID {
            guard let id = JobID(jobID) else { throw ValidationError("\"\(jobID)\" is not a job id") }
            guard let record = try store.job(id) else {
                printError("no job \(id) in \(options.databasePath)")
                throw ExitCode(1)
            }
            let events = try store.events(of: id).map(\.event)
            if json {
                struct Detail: Encodable {
                    var job: JobRecord
                    var events: [LifecycleEvent]
                }
                print(String(decoding: try encoder.encode(Detail(job: record, events: events)), as: UTF8.self))
            } else {
                print(StatusTable.render([record]))
                print("")
                for event in events {
                    let detail = [event.reason, event.exitCode.map { "exit \($0)" }].compactMap { $0 }.joined(separator: ", ")
                    print(
                        "\(WireFormat.formatTimestamp(event.occurredAt))  attempt \(event.attempt)  \(event.state.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(event.source.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(detail)"
                    )
                }
            }
            return
        }
        let stateFilter = try state.map { text in
            guard let parsed = JobState(rawValue: text.uppercased()) else { throw ValidationError("unknown state \(text)") }
            return parsed
        }
        let records = try store.jobs(JobFilter(team: team, state: stateFilter, limit: limit, newest: true))
        if json {
            print(String(decoding: try encoder.encode(records), as: UTF8.self))
        } else {
            print(StatusTable.render(records))
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
