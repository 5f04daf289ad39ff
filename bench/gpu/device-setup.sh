# Sourced by the on-device scripts (bash, from the repository root, with .gpu/ filled): unpacks the Vulkan loader
# and GL dispatch debs into /, node into /tmp/rfl-node and Dawn beside its index.js, and points the Vulkan
# loader at NVIDIA's driver. Sets `node` to the node binary.
for f in .gpu/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
node=/tmp/rfl-node
[ -x "$node" ] || { xz -dc .gpu/node.xz > "$node"; chmod +x "$node"; }
dawn=.gpu/node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn" ] || xz -dc .gpu/dawn.node.xz > "$dawn"
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
