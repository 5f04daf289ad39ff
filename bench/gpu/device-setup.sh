# Sourced by the on-device scripts (bash, from the repository root, with .gpu/ filled): unpacks the Vulkan loader
# and GL dispatch debs into /, node into /tmp/rfl-node and Dawn beside its index.js, and points the Vulkan
# loader at NVIDIA's driver, and the CPU workers at the native kernels where they were packed. Sets `node` to the
# node binary.
for f in .gpu/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
node=/tmp/rfl-node
[ -x "$node" ] || { xz -dc .gpu/node.xz > "$node"; chmod +x "$node"; }
dawn=.gpu/node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn" ] || xz -dc .gpu/dawn.node.xz > "$dawn"
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
# The native CPU kernels, where pack.sh found them built (the CPU workers' backend; results.json machine.backend).
if [ -f .gpu/native/build/Release/rfl_native.node ]; then export RFL_NATIVE_BUILD=$PWD/.gpu/native/build; fi
