import ArgumentParser

/// The `trainyard` executable: one binary, the role chosen by the subcommand.
@main
struct Trainyard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trainyard",
        abstract: "Run ML compute jobs from Kafka topics on local processes, SageMaker or Kubernetes.",
        subcommands: [
            SubmitJobs.self, ShowStatus.self, CancelJob.self, RunWorker.self, RunAggregator.self, TopicsCommand.self,
            LocalSupervise.self, APIKeyCommand.self, ShowLogs.self, ShowSpend.self,
        ])
}
