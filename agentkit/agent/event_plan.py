"""Which lifecycle events a deployment runs, in what order, for the kind of deployment and
instance modelled; and the lines of the report that say what verify assumed of it."""

from __future__ import annotations

from agentkit import events as ev

# A blue/green deployment runs the lifecycle on two sets of instances ("Lifecycle event hook
# availability", the AppSpec 'hooks' section of the CodeDeploy user guide): new replacement
# instances get the install and the AllowTraffic hooks; the original instances only the
# BlockTraffic hooks, from their last successful revision, and nothing is installed there.
IN_PLACE, REPLACEMENT, ORIGINAL = "in-place", "blue-green replacement", "blue-green original"
BLOCK_TRAFFIC = ("BeforeBlockTraffic", "AfterBlockTraffic")


def event_names(load_balancer: bool, subset: tuple[str, ...] = (),
                deployment: str = IN_PLACE) -> list[str]:
    """The events in the order they run. With --events, codedeploy-local runs them in the
    order given, DownloadBundle and Install put first when missing, and Install moved after
    DownloadBundle (deployer.rb#add_download_bundle_and_install_events)."""
    if deployment == ORIGINAL:
        return list(BLOCK_TRAFFIC)
    if deployment == REPLACEMENT:
        return [n for n in ev.ORDERED if n not in BLOCK_TRAFFIC]
    if subset:
        names = [n for n in ev.AGENT_INTERNAL if n not in subset] + list(subset)
        if "Install" in names[:names.index("DownloadBundle")]:
            i, j = names.index("DownloadBundle"), names.index("Install")
            names[i], names[j] = names[j], names[i]
        return names
    if load_balancer:
        return list(ev.ORDERED)
    return [n for n in ev.ORDERED if n not in ev.TRAFFIC]


def modelled(deployment: str, events: tuple[str, ...], load_balancer: bool, image: str
             ) -> tuple[str, ...]:
    """What verify assumed of the deployment, said in the report."""
    if deployment == REPLACEMENT:
        traffic = ("a blue/green deployment's replacement instance: launched new (no earlier "
                   "revision), the install, then the AllowTraffic hooks (--instance original: "
                   "what the original instances run)")
    elif deployment == ORIGINAL:
        traffic = ("a blue/green deployment's original instance: only the BlockTraffic hooks, "
                   "from its last successful revision; this revision is not installed there")
    elif events:
        traffic = "only the events given with --events (as codedeploy-local --events)"
    elif load_balancer:
        traffic = ("traffic hooks run: codedeploy-local's order, as a deployment group with a "
                   "load balancer (--no-load-balancer: the service skips them)")
    else:
        traffic = "no load balancer: the service skips the Before/After Block/AllowTraffic hooks"
    lower = (f"the instance's file system: the image {image} (its users, packages and "
             "units)" if image else "the instance's file system: this machine's / "
             "(--image: the instance's own)")
    return (traffic, lower)
