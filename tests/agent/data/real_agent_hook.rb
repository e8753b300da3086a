# Runs the CodeDeploy agent's own hook executor (lib/ of aws-codedeploy-agent 1.8.x, from
# $AGENT_LIB) for one lifecycle event of an unpacked bundle: the reference for
# tests/agent/real_agent_test.py. Only the logger and the agent's configuration are stubbed.
# Prints one JSON line: the error code (0: succeeded), the message, the log the console shows.
# usage: ruby real_agent_hook.rb DEPLOYMENT_ROOT_DIR EVENT DEPLOYMENT_ID
require_relative "agent_stubs"
require "instance_agent/platform/linux_util"
module InstanceAgent
  module Platform
    def self.util
      InstanceAgent::LinuxUtil
    end
  end
end
require "instance_agent/plugins/codedeploy/hook_executor"

root, event, deployment_id = ARGV
begin
  InstanceAgent::Plugins::CodeDeployPlugin::HookExecutor.new(
    lifecycle_event: event, deployment_id: deployment_id, deployment_root_dir: root,
    app_spec_path: "appspec.yml", application_name: "agentkit-verify",
    deployment_group_name: "LocalFleet", deployment_group_id: "dg-verify",
    deployment_creator: "user", deployment_type: "IN_PLACE",
    last_successful_deployment_dir: nil, most_recent_deployment_dir: nil
  ).execute
  puts JSON.generate({ "error_code" => 0, "message" => nil, "log" => nil })
rescue InstanceAgent::Plugins::CodeDeployPlugin::ScriptError => e
  puts JSON.generate({ "error_code" => e.error_code, "message" => e.message,
                       "log" => (e.log.log || []).join })
end
