"""An ML2 mechanism driver for a cloud without agents.

No built-in mechanism driver binds a port when no L2 agent reports in, so Nova's boots fail
with PortBindingFailed. This driver binds every port to the first segment offered, with VIF
type ``ovs``, and marks it ACTIVE at once. Registered as ``conformance`` under the
``neutron.ml2.mechanism_drivers`` entry point.
"""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class BindEverythingMechanismDriver(api.MechanismDriver):
    """Binds any port on its first segment (VIF type ovs, status ACTIVE)."""

    def initialize(self):
        """Nothing to set up."""

    @property
    def connectivity(self):
        """Layer-2 connectivity, like the OVS driver it stands in for."""
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        """Bind the port on the first segment Neutron offers."""
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True, portbindings.OVS_HYBRID_PLUG: False},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return
