"""Creates Neutron's tables from its models (``neutron-db-manage stamp heads`` follows).

Running Neutron's few hundred migrations takes minutes; creating the head schema from the
models takes seconds and gives the same tables.

Usage: ``python -m conformance_cloud.neutron_schema --config-file neutron.conf``
"""

import argparse
import configparser

import sqlalchemy
from neutron.db.migration.models import head


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config-file", required=True)
    args = parser.parse_args()
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(args.config_file)
    engine = sqlalchemy.create_engine(conf["database"]["connection"])
    head.get_metadata().create_all(engine)
    engine.dispose()
    print("neutron tables created")


if __name__ == "__main__":
    main()
