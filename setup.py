"""Everything is declared in setup.cfg; this file only places the Kipoi plugin hook.

``kipoi_explain_hook.pth`` must sit in site-packages so that ``kipoi explain ...`` finds the
plugin (Kipoi's plugin list is hard-coded). Wheels carry it as a data file, whose location
relative to the install prefix is the same for virtualenvs, user and system installs; editable
installs skip data files, so there it is written next to setuptools' own editable ``.pth``.
"""
import os
import sys
import sysconfig

from setuptools import setup
from setuptools.command.editable_wheel import editable_wheel

HOOK = "plugin/kipoi_explain_hook.pth"
SITE_PACKAGES = os.path.relpath(sysconfig.get_path("purelib"), sys.prefix)


class EditableWheelWithHook(editable_wheel):
    def _select_strategy(self, name, tag, build_lib):
        strategy = super()._select_strategy(name, tag, build_lib)

        class WithHook:
            def __enter__(self):
                strategy.__enter__()
                return self

            def __exit__(self, *exc):
                return strategy.__exit__(*exc)

            def __call__(self, wheel, files, mapping):
                strategy(wheel, files, mapping)
                with open(HOOK, "rb") as hook:
                    wheel.writestr(os.path.basename(HOOK), hook.read())

        return WithHook()


setup(data_files=[(SITE_PACKAGES, [HOOK])], cmdclass={"editable_wheel": EditableWheelWithHook})
